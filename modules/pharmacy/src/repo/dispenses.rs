//! SQL of the pharmacy's dispenses: the queue (a query on core `orders`), stock as a dispenser
//! sees it, dispenses and their lines, the batches each line was taken from (its ledger rows),
//! returns, and a patient's medicines for the chart. Stock itself moves only through
//! `crate::stock`.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Backend, Db, DbError, Tx};

mod reads;
pub use reads::*;

fn ymd(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A visit waiting at the pharmacy: drug orders placed or part done.
#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub visit: i64,
    pub patient: i64,
    /// When its oldest open drug order was placed (RFC 3339).
    pub since: String,
    pub lines: i64,
}

/// Visits with drug orders placed or in progress, oldest first (the worklist index of
/// `orders`).
pub async fn queue(db: &Db, limit: i64) -> Result<Vec<Waiting>, DbError> {
    let rows = sqlx::query(
        "SELECT visit_id, patient_id, MIN(placed_at), COUNT(*) FROM orders \
         WHERE kind = 'drug' AND state IN ('placed', 'in_progress') AND visit_id IS NOT NULL \
         GROUP BY visit_id, patient_id ORDER BY MIN(placed_at), visit_id \
         LIMIT CAST($1 AS BIGINT)",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Waiting {
            visit: r.get(0),
            patient: r.get(1),
            since: r.get(2),
            lines: r.get(3),
        })
        .collect())
}

/// A batch as the dispenser sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    pub id: i64,
    pub batch_no: String,
    /// `YYYY-MM-DD`.
    pub expiry: String,
    pub qty: i64,
}

/// The usable batches of a drug in a store on `day`, first expiry first.
pub async fn usable_batches(
    db: &Db,
    store: i64,
    drug: i64,
    day: NaiveDate,
) -> Result<Vec<Batch>, DbError> {
    let rows = sqlx::query(
        "SELECT id, batch_no, expiry, qty_on_hand FROM stock_batches \
         WHERE store_id = $1 AND drug_id = $2 AND expiry >= $3 AND qty_on_hand > 0 \
         ORDER BY expiry, id",
    )
    .bind(store)
    .bind(drug)
    .bind(ymd(day))
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Batch {
            id: r.get(0),
            batch_no: r.get(1),
            expiry: r.get(2),
            qty: r.get(3),
        })
        .collect())
}

/// Units of a drug usable on `day` in a store, read in `tx`.
pub async fn usable_in(tx: &mut Tx, store: i64, drug: i64, day: NaiveDate) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(qty_on_hand), 0) AS BIGINT) FROM stock_batches \
         WHERE store_id = $1 AND drug_id = $2 AND expiry >= $3",
    )
    .bind(store)
    .bind(drug)
    .bind(ymd(day))
    .fetch_one(&mut **tx)
    .await?)
}

/// Units usable on `day` of one batch, when it is of this store and drug.
pub async fn batch_usable_in(
    tx: &mut Tx,
    batch: i64,
    store: i64,
    drug: i64,
    day: NaiveDate,
) -> Result<Option<i64>, DbError> {
    let row = sqlx::query(
        "SELECT qty_on_hand, expiry FROM stock_batches \
         WHERE id = $1 AND store_id = $2 AND drug_id = $3",
    )
    .bind(batch)
    .bind(store)
    .bind(drug)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| {
        let expiry: String = r.get(1);
        if expiry < ymd(day) {
            0
        } else {
            r.get(0)
        }
    }))
}

/// An order as the dispenser locks it before touching stock.
#[derive(Debug, Clone)]
pub struct OrderNow {
    pub kind: String,
    pub state: String,
    pub quantity: i64,
    pub done: i64,
    pub visit: Option<i64>,
    /// Units in dispenses prepared and not yet issued.
    pub pending: i64,
}

/// Locks an order row (PostgreSQL: `FOR UPDATE`; SQLite's write transaction holds the
/// database) and reads where it stands. Orders are locked before any batch, in id order.
pub async fn lock_order(
    tx: &mut Tx,
    backend: Backend,
    id: i64,
) -> Result<Option<OrderNow>, DbError> {
    // The units in prepared dispenses come in the same statement: one round trip a line.
    let sql = match backend {
        Backend::Postgres => {
            "SELECT o.kind, o.state, o.quantity, o.quantity_done, o.visit_id, \
             CAST(COALESCE((SELECT SUM(l.quantity) FROM dispense_lines l \
               JOIN dispenses d ON d.id = l.dispense_id \
               WHERE l.order_id = o.id AND d.state = 'prepared'), 0) AS BIGINT) \
             FROM orders o WHERE o.id = $1 FOR UPDATE OF o"
        }
        Backend::Sqlite => {
            "SELECT o.kind, o.state, o.quantity, o.quantity_done, o.visit_id, \
             CAST(COALESCE((SELECT SUM(l.quantity) FROM dispense_lines l \
               JOIN dispenses d ON d.id = l.dispense_id \
               WHERE l.order_id = o.id AND d.state = 'prepared'), 0) AS BIGINT) \
             FROM orders o WHERE o.id = $1"
        }
    };
    let Some(r) = sqlx::query(sql).bind(id).fetch_optional(&mut **tx).await? else {
        return Ok(None);
    };
    let pending: i64 = r.get(5);
    Ok(Some(OrderNow {
        kind: r.get(0),
        state: r.get(1),
        quantity: r.get(2),
        done: r.get(3),
        visit: r.get(4),
        pending,
    }))
}

/// Locks an order row for issuing (as [`lock_order`]) and reads (quantity, quantity done).
pub async fn lock_order_done(
    tx: &mut Tx,
    backend: Backend,
    id: i64,
) -> Result<Option<(i64, i64)>, DbError> {
    let sql = match backend {
        Backend::Postgres => "SELECT quantity, quantity_done FROM orders WHERE id = $1 FOR UPDATE",
        Backend::Sqlite => "SELECT quantity, quantity_done FROM orders WHERE id = $1",
    };
    Ok(sqlx::query(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// The dispense made with a form token, if any.
pub async fn by_token(db: &Db, token: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM dispenses WHERE form_token = $1")
            .bind(token)
            .fetch_optional(db.read())
            .await?,
    )
}

/// The dispense a form token made, read in `tx`.
pub async fn by_token_in(tx: &mut Tx, token: &str) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM dispenses WHERE form_token = $1")
            .bind(token)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

pub struct NewDispense<'a> {
    pub kind: &'a str,
    pub store: i64,
    pub patient: Option<i64>,
    pub visit: Option<i64>,
    pub walk_in_name: Option<&'a str>,
    pub language: &'a str,
    pub emergency: bool,
    pub token: &'a str,
    pub user: Option<i64>,
    pub at: &'a str,
}

/// Writes a prepared dispense unless its form token made one before (`None` then), without a
/// failed statement: the transaction may be shared with other writes.
pub async fn insert_once(tx: &mut Tx, d: &NewDispense<'_>) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO dispenses (kind, store_id, patient_id, visit_id, walk_in_name, language, \
         state, emergency, form_token, prepared_by, prepared_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'prepared', $7, $8, $9, $10) \
         ON CONFLICT (form_token) DO NOTHING RETURNING id",
    )
    .bind(d.kind)
    .bind(d.store)
    .bind(d.patient)
    .bind(d.visit)
    .bind(d.walk_in_name)
    .bind(d.language)
    .bind(i64::from(d.emergency))
    .bind(d.token)
    .bind(d.user)
    .bind(d.at)
    .fetch_optional(&mut **tx)
    .await?)
}

pub struct NewLine<'a> {
    pub dispense: i64,
    pub order: Option<i64>,
    pub drug: i64,
    pub quantity: i64,
    pub unit_price_cents: i64,
    pub instructions: &'a str,
    pub batch: Option<i64>,
    pub batch_reason: Option<&'a str>,
}

pub async fn insert_line(tx: &mut Tx, l: &NewLine<'_>) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO dispense_lines (dispense_id, order_id, drug_id, quantity, unit_price_cents, \
         instructions, batch_id, batch_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(l.dispense)
    .bind(l.order)
    .bind(l.drug)
    .bind(l.quantity)
    .bind(l.unit_price_cents)
    .bind(l.instructions)
    .bind(l.batch)
    .bind(l.batch_reason)
    .fetch_one(&mut **tx)
    .await?)
}

pub async fn link_charge(tx: &mut Tx, line: i64, charge: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE dispense_lines SET charge_id = $2 WHERE id = $1")
        .bind(line)
        .bind(charge)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A dispense as stored.
#[derive(Debug, Clone, Serialize)]
pub struct DispenseRow {
    pub id: i64,
    pub kind: String,
    pub store: i64,
    pub store_name: String,
    pub patient: Option<i64>,
    pub visit: Option<i64>,
    pub walk_in_name: Option<String>,
    pub language: String,
    pub state: String,
    pub emergency: bool,
    pub prepared_by: Option<String>,
    pub prepared_at: String,
    pub issued_by: Option<String>,
    pub issued_at: Option<String>,
}

macro_rules! select_dispense {
    ($tail:literal) => {
        concat!(
            "SELECT d.id, d.kind, d.store_id, s.name, d.patient_id, d.visit_id, d.walk_in_name, ",
            "d.language, d.state, d.emergency, pu.full_name, d.prepared_at, iu.full_name, ",
            "d.issued_at FROM dispenses d JOIN stores s ON s.id = d.store_id ",
            "LEFT JOIN users pu ON pu.id = d.prepared_by LEFT JOIN users iu ON iu.id = d.issued_by ",
            $tail
        )
    };
}

fn dispense_from(r: &sqlx::any::AnyRow) -> DispenseRow {
    DispenseRow {
        id: r.get(0),
        kind: r.get(1),
        store: r.get(2),
        store_name: r.get(3),
        patient: r.get(4),
        visit: r.get(5),
        walk_in_name: r.get(6),
        language: r.get(7),
        state: r.get(8),
        emergency: r.get::<i64, _>(9) != 0,
        prepared_by: r.get(10),
        prepared_at: r.get(11),
        issued_by: r.get(12),
        issued_at: r.get(13),
    }
}

pub async fn dispense(db: &Db, id: i64) -> Result<Option<DispenseRow>, DbError> {
    Ok(sqlx::query(select_dispense!("WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(dispense_from))
}

/// The dispenses of a visit, newest first.
pub async fn of_visit(db: &Db, visit: i64) -> Result<Vec<DispenseRow>, DbError> {
    Ok(
        sqlx::query(select_dispense!("WHERE d.visit_id = $1 ORDER BY d.id DESC"))
            .bind(visit)
            .fetch_all(db.read())
            .await?
            .iter()
            .map(dispense_from)
            .collect(),
    )
}

/// A line of a dispense with its drug.
#[derive(Debug, Clone, Serialize)]
pub struct LineRow {
    pub id: i64,
    pub order: Option<i64>,
    pub drug: i64,
    pub drug_name: String,
    pub unit: String,
    pub quantity: i64,
    pub issued: i64,
    pub returned: i64,
    pub unit_price_cents: i64,
    pub instructions: String,
    pub batch: Option<i64>,
    pub batch_reason: Option<String>,
    pub charge: Option<i64>,
    pub controlled: bool,
}

macro_rules! select_lines {
    ($tail:literal) => {
        concat!(
            "SELECT l.id, l.order_id, l.drug_id, dr.generic_name, dr.strength, dr.form, dr.unit, ",
            "l.quantity, l.quantity_issued, l.quantity_returned, l.unit_price_cents, ",
            "l.instructions, l.batch_id, l.batch_reason, l.charge_id, dr.controlled ",
            "FROM dispense_lines l JOIN drugs dr ON dr.id = l.drug_id ",
            $tail
        )
    };
}

fn line_from(r: &sqlx::any::AnyRow) -> LineRow {
    let name = [r.get::<String, _>(3), r.get(4), r.get(5)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    LineRow {
        id: r.get(0),
        order: r.get(1),
        drug: r.get(2),
        drug_name: name,
        unit: r.get(6),
        quantity: r.get(7),
        issued: r.get(8),
        returned: r.get(9),
        unit_price_cents: r.get(10),
        instructions: r.get(11),
        batch: r.get(12),
        batch_reason: r.get(13),
        charge: r.get(14),
        controlled: r.get::<i64, _>(15) != 0,
    }
}

pub async fn lines(db: &Db, dispense: i64) -> Result<Vec<LineRow>, DbError> {
    Ok(
        sqlx::query(select_lines!("WHERE l.dispense_id = $1 ORDER BY l.id"))
            .bind(dispense)
            .fetch_all(db.read())
            .await?
            .iter()
            .map(line_from)
            .collect(),
    )
}

pub async fn lines_in(tx: &mut Tx, dispense: i64) -> Result<Vec<LineRow>, DbError> {
    Ok(
        sqlx::query(select_lines!("WHERE l.dispense_id = $1 ORDER BY l.id"))
            .bind(dispense)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(line_from)
            .collect(),
    )
}

/// `prepared -> issued`, guarded: `false` when it was not prepared any more.
pub async fn mark_issued(
    tx: &mut Tx,
    id: i64,
    user: Option<i64>,
    at: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE dispenses SET state = 'issued', issued_by = $2, issued_at = $3 \
         WHERE id = $1 AND state = 'prepared'",
    )
    .bind(id)
    .bind(user)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// `prepared -> cancelled`, guarded.
pub async fn mark_cancelled(
    tx: &mut Tx,
    id: i64,
    user: Option<i64>,
    at: &str,
    reason: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE dispenses SET state = 'cancelled', cancelled_by = $2, cancelled_at = $3, \
         reason = $4 WHERE id = $1 AND state = 'prepared'",
    )
    .bind(id)
    .bind(user)
    .bind(at)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_issued(tx: &mut Tx, line: i64, issued: i64) -> Result<(), DbError> {
    let done = sqlx::query(
        "UPDATE dispense_lines SET quantity_issued = $2 WHERE id = $1 AND quantity_issued = 0",
    )
    .bind(line)
    .bind(issued)
    .execute(&mut **tx)
    .await?;
    hms_core::db::one_row(done)
}

/// Adds `n` to a line's returned units unless that would pass what was issued; `false` then.
pub async fn add_returned(tx: &mut Tx, line: i64, n: i64) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "UPDATE dispense_lines SET quantity_returned = quantity_returned + $2 \
         WHERE id = $1 AND quantity_returned + $2 <= quantity_issued \
         RETURNING quantity_returned",
    )
    .bind(line)
    .bind(n)
    .fetch_optional(&mut **tx)
    .await?)
}

/// What a line took from (or gave back to) each batch: (batch, batch number, expiry, units
/// out net of returns), latest expiry first.
pub async fn line_batches_in(
    tx: &mut Tx,
    line: i64,
) -> Result<Vec<(i64, String, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT b.id, b.batch_no, b.expiry, CAST(-SUM(l.quantity) AS BIGINT) \
         FROM stock_ledger l JOIN stock_batches b ON b.id = l.batch_id \
         WHERE l.reference = $1 GROUP BY b.id, b.batch_no, b.expiry \
         ORDER BY b.expiry DESC, b.id DESC",
    )
    .bind(format!("dispense_line:{line}"))
    .fetch_all(&mut **tx)
    .await?)
}

/// The batches every line of a dispense was taken from: (line, batch number, expiry, units).
pub async fn taken_from(
    db: &Db,
    dispense: i64,
) -> Result<Vec<(i64, String, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT dl.id, b.batch_no, b.expiry, CAST(-SUM(l.quantity) AS BIGINT) \
         FROM dispense_lines dl \
         JOIN stock_ledger l ON l.reference = 'dispense_line:' || CAST(dl.id AS TEXT) \
         JOIN stock_batches b ON b.id = l.batch_id \
         WHERE dl.dispense_id = $1 AND l.kind = 'dispense' \
         GROUP BY dl.id, b.batch_no, b.expiry, b.id ORDER BY dl.id, b.expiry, b.id",
    )
    .bind(dispense)
    .fetch_all(db.read())
    .await?)
}
