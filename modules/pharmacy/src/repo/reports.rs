//! SQL of the pharmacy's reports, cards and ledger checks. Every figure over a period comes
//! from grouped queries on `stock_ledger` through its `(store_id, at)` index (one query per
//! kind of figure, never one per drug), or from `dispenses` through `dispenses_issued`.

use sqlx::Row;

use hms_core::db::{Db, DbError};

/// A batch of a store as it stands now.
#[derive(Debug, Clone)]
pub struct BatchNow {
    pub id: i64,
    pub drug: i64,
    /// `YYYY-MM-DD`.
    pub expiry: String,
    pub on_hand: i64,
}

/// Every batch of `store`.
pub async fn store_batches(db: &Db, store: i64) -> Result<Vec<BatchNow>, DbError> {
    let rows = sqlx::query(
        "SELECT id, drug_id, expiry, qty_on_hand FROM stock_batches WHERE store_id = $1",
    )
    .bind(store)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| BatchNow {
            id: r.get(0),
            drug: r.get(1),
            expiry: r.get(2),
            on_hand: r.get(3),
        })
        .collect())
}

/// What moved in each batch of `store` from `from` on (RFC 3339 UTC): (batch, net quantity).
pub async fn moved_since(db: &Db, store: i64, from: &str) -> Result<Vec<(i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT batch_id, CAST(SUM(quantity) AS BIGINT) FROM stock_ledger \
         WHERE store_id = $1 AND at >= $2 GROUP BY batch_id",
    )
    .bind(store)
    .bind(from)
    .fetch_all(db.read())
    .await?)
}

/// Movements of a period, summed per drug, ledger kind and direction.
#[derive(Debug, Clone)]
pub struct KindTotal {
    pub drug: i64,
    pub kind: String,
    pub quantity: i64,
}

/// The period's movements of `store` in `[from, to)` per drug, kind and direction (ins and
/// outs summed apart): one range scan of the period, a few rows per drug.
pub async fn kind_totals(
    db: &Db,
    store: i64,
    from: &str,
    to: &str,
) -> Result<Vec<KindTotal>, DbError> {
    let rows = sqlx::query(
        "SELECT drug_id, kind, CASE WHEN quantity < 0 THEN 1 ELSE 0 END, \
         CAST(SUM(quantity) AS BIGINT) FROM stock_ledger \
         WHERE store_id = $1 AND at >= $2 AND at < $3 GROUP BY 1, 2, 3",
    )
    .bind(store)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| KindTotal {
            drug: r.get(0),
            kind: r.get(1),
            quantity: r.get(3),
        })
        .collect())
}

/// Every drug's net movement in `store` over `[from, to)` per UTC day, with whether it falls
/// at 21:00 UTC or later (the next day in Nairobi): (drug, `YYYY-MM-DD` UTC, late, net
/// quantity). One range scan of the period through `stock_ledger_period`.
pub async fn daily_moves(
    db: &Db,
    store: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(i64, String, bool, i64)>, DbError> {
    let rows = sqlx::query(
        "SELECT drug_id, SUBSTR(at, 1, 10), \
         CASE WHEN SUBSTR(at, 12, 2) >= '21' THEN 1 ELSE 0 END, \
         CAST(SUM(quantity) AS BIGINT) FROM stock_ledger \
         WHERE store_id = $1 AND at >= $2 AND at < $3 GROUP BY 1, 2, 3",
    )
    .bind(store)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get::<i64, _>(2) == 1, r.get(3)))
        .collect())
}

/// The period's adjustments of `store` per drug and reason, with what they moved: (drug,
/// reason, net quantity of their ledger rows in `[from, to)`). Driven from the store's
/// adjustments (few) through the ledger's reference index.
pub async fn adjustment_totals(
    db: &Db,
    store: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(i64, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT l.drug_id, a.reason, CAST(SUM(l.quantity) AS BIGINT) FROM adjustments a \
         JOIN stock_ledger l ON l.reference = 'adjustment:' || CAST(a.id AS TEXT) \
         WHERE a.store_id = $1 AND l.store_id = $1 AND l.at >= $2 AND l.at < $3 \
         AND l.quantity < 0 GROUP BY 1, 2",
    )
    .bind(store)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?)
}

/// The drugs `store` stocks (a batch there, or a level set): the consumption report's lines.
pub async fn store_drugs(db: &Db, store: i64) -> Result<Vec<crate::model::Drug>, DbError> {
    let rows = sqlx::query(crate::select_drugs!(
        "WHERE d.id IN (SELECT drug_id FROM stock_batches WHERE store_id = $1) \
         OR d.id IN (SELECT drug_id FROM store_levels WHERE store_id = $1) \
         ORDER BY d.generic_name, d.strength, d.id"
    ))
    .bind(store)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(crate::model::drug_from).collect())
}

/// (drug, reorder level, maximum level) of `store`.
pub async fn store_levels(db: &Db, store: i64) -> Result<Vec<(i64, i64, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT drug_id, reorder_level, maximum_level FROM store_levels WHERE store_id = $1",
    )
    .bind(store)
    .fetch_all(db.read())
    .await?)
}

/// A drug's stock in one store (or all), for the stock-on-hand report.
#[derive(Debug, Clone)]
pub struct OnHand {
    pub drug: i64,
    pub on_hand: i64,
    pub expired: i64,
    pub cost_cents: i64,
}

/// Stock on hand per drug in `store` (0: every store), `today` deciding what has expired.
pub async fn on_hand(db: &Db, store: i64, today: &str) -> Result<Vec<OnHand>, DbError> {
    let rows = sqlx::query(
        "SELECT b.drug_id, CAST(SUM(b.qty_on_hand) AS BIGINT), \
         CAST(SUM(CASE WHEN b.expiry < $1 THEN b.qty_on_hand ELSE 0 END) AS BIGINT), \
         CAST(SUM(b.qty_on_hand * b.unit_cost_cents) AS BIGINT) \
         FROM stock_batches b WHERE b.qty_on_hand > 0 AND ($2 = 0 OR b.store_id = $2) \
         GROUP BY b.drug_id",
    )
    .bind(today)
    .bind(store)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| OnHand {
            drug: r.get(0),
            on_hand: r.get(1),
            expired: r.get(2),
            cost_cents: r.get(3),
        })
        .collect())
}

/// The drugs holding stock in `store` (0: every store), by name.
pub async fn drugs_in_stock(db: &Db, store: i64) -> Result<Vec<crate::model::Drug>, DbError> {
    let rows = sqlx::query(crate::select_drugs!(
        "WHERE d.id IN (SELECT drug_id FROM stock_batches WHERE qty_on_hand > 0 \
         AND ($1 = 0 OR store_id = $1)) ORDER BY d.generic_name, d.strength, d.id"
    ))
    .bind(store)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(crate::model::drug_from).collect())
}

/// A batch near or past its expiry, for the expiry report and the cards.
#[derive(Debug, Clone)]
pub struct ExpiringBatch {
    pub store: i64,
    pub store_name: String,
    pub drug: i64,
    pub drug_name: String,
    pub unit: String,
    pub batch_no: String,
    pub expiry: String,
    pub on_hand: i64,
    pub unit_cost_cents: i64,
}

/// Batches holding stock that expire on or before `until` and on or after `after` (`YYYY-MM-DD`),
/// in `store` (0: every store), earliest first; at most `limit`.
pub async fn expiring(
    db: &Db,
    store: i64,
    after: &str,
    until: &str,
    limit: i64,
) -> Result<Vec<ExpiringBatch>, DbError> {
    let rows = sqlx::query(
        "SELECT b.store_id, s.name, b.drug_id, \
         d.generic_name || CASE WHEN d.strength = '' THEN '' ELSE ' ' || d.strength END \
         || ' ' || d.form, d.unit, b.batch_no, b.expiry, b.qty_on_hand, b.unit_cost_cents \
         FROM stock_batches b JOIN stores s ON s.id = b.store_id JOIN drugs d ON d.id = b.drug_id \
         WHERE b.qty_on_hand > 0 AND b.expiry >= $1 AND b.expiry <= $2 \
         AND ($3 = 0 OR b.store_id = $3) ORDER BY b.expiry, d.generic_name, b.id LIMIT CAST($4 AS BIGINT)",
    )
    .bind(after)
    .bind(until)
    .bind(store)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| ExpiringBatch {
            store: r.get(0),
            store_name: r.get(1),
            drug: r.get(2),
            drug_name: r.get(3),
            unit: r.get(4),
            batch_no: r.get(5),
            expiry: r.get(6),
            on_hand: r.get(7),
            unit_cost_cents: r.get(8),
        })
        .collect())
}

/// How many batches holding stock expire in `[after, until]` and the units they hold.
pub async fn expiring_count(db: &Db, after: &str, until: &str) -> Result<(i64, i64), DbError> {
    let r = sqlx::query(
        "SELECT COUNT(*), CAST(COALESCE(SUM(qty_on_hand), 0) AS BIGINT) FROM stock_batches \
         WHERE qty_on_hand > 0 AND expiry >= $1 AND expiry <= $2",
    )
    .bind(after)
    .bind(until)
    .fetch_one(db.read())
    .await?;
    Ok((r.get(0), r.get(1)))
}

/// One issued dispense line, for the dispensing register and the patient's export.
#[derive(Debug, Clone)]
pub struct IssuedLine {
    pub dispense: i64,
    pub kind: String,
    pub patient: Option<i64>,
    pub walk_in_name: Option<String>,
    pub issued_at: String,
    pub issued_by: Option<String>,
    pub drug_name: String,
    pub unit: String,
    pub issued: i64,
    pub returned: i64,
    pub price_cents: i64,
    pub instructions: String,
}

macro_rules! issued_lines {
    ($where:literal) => {
        concat!(
            "SELECT d.id, d.kind, d.patient_id, d.walk_in_name, d.issued_at, u.full_name, \
             dr.generic_name || CASE WHEN dr.strength = '' THEN '' \
             ELSE ' ' || dr.strength END || ' ' || dr.form, dr.unit, \
             dl.quantity_issued, dl.quantity_returned, dl.unit_price_cents, dl.instructions \
             FROM dispenses d JOIN dispense_lines dl ON dl.dispense_id = d.id \
             JOIN drugs dr ON dr.id = dl.drug_id LEFT JOIN users u ON u.id = d.issued_by ",
            $where
        )
    };
}

fn issued_line(r: &sqlx::any::AnyRow) -> IssuedLine {
    IssuedLine {
        dispense: r.get(0),
        kind: r.get(1),
        patient: r.get(2),
        walk_in_name: r.get(3),
        issued_at: r.get(4),
        issued_by: r.get(5),
        drug_name: r.get(6),
        unit: r.get(7),
        issued: r.get(8),
        returned: r.get(9),
        price_cents: r.get(10),
        instructions: r.get(11),
    }
}

/// Lines of dispenses issued in `[from, to)` from `store` (0: every store), in issue order.
pub async fn issued_lines(
    db: &Db,
    store: i64,
    from: &str,
    to: &str,
) -> Result<Vec<IssuedLine>, DbError> {
    let rows = sqlx::query(issued_lines!(
        "WHERE d.state = 'issued' AND d.issued_at >= $1 AND d.issued_at < $2 \
         AND ($3 = 0 OR d.store_id = $3) ORDER BY d.issued_at, d.id, dl.id"
    ))
    .bind(from)
    .bind(to)
    .bind(store)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(issued_line).collect())
}

/// A patient's issued lines, newest first (the export, the chart).
pub async fn patient_lines(db: &Db, patient: i64) -> Result<Vec<IssuedLine>, DbError> {
    let rows = sqlx::query(issued_lines!(
        "WHERE d.patient_id = $1 AND d.state = 'issued' ORDER BY d.issued_at DESC, d.id, dl.id"
    ))
    .bind(patient)
    .fetch_all(db.read())
    .await?;
    Ok(rows.iter().map(issued_line).collect())
}

/// A ledger row of a controlled drug.
#[derive(Debug, Clone)]
pub struct ControlledRow {
    pub drug: i64,
    pub drug_name: String,
    pub at: String,
    pub kind: String,
    pub quantity: i64,
    pub reference: String,
    pub reason: Option<String>,
    pub batch_no: String,
    pub expiry: String,
    pub user: Option<String>,
}

/// The ledger rows of controlled drugs in `store` over `[from, to)`, per drug in time order.
pub async fn controlled_rows(
    db: &Db,
    store: i64,
    from: &str,
    to: &str,
) -> Result<Vec<ControlledRow>, DbError> {
    let rows = sqlx::query(
        "SELECT l.drug_id, d.generic_name || CASE WHEN d.strength = '' THEN '' \
         ELSE ' ' || d.strength END || ' ' || d.form, l.at, l.kind, l.quantity, l.reference, \
         l.reason, b.batch_no, b.expiry, u.full_name \
         FROM stock_ledger l JOIN drugs d ON d.id = l.drug_id \
         JOIN stock_batches b ON b.id = l.batch_id LEFT JOIN users u ON u.id = l.user_id \
         WHERE l.store_id = $1 AND l.at >= $2 AND l.at < $3 AND d.controlled = 1 \
         ORDER BY d.generic_name, l.drug_id, l.at, l.id",
    )
    .bind(store)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| ControlledRow {
            drug: r.get(0),
            drug_name: r.get(1),
            at: r.get(2),
            kind: r.get(3),
            quantity: r.get(4),
            reference: r.get(5),
            reason: r.get(6),
            batch_no: r.get(7),
            expiry: r.get(8),
            user: r.get(9),
        })
        .collect())
}

/// (controlled drug, units on hand now) in `store`, and (drug, net moved from `from` on).
pub async fn controlled_balances(
    db: &Db,
    store: i64,
    from: &str,
) -> Result<(Vec<(i64, i64)>, Vec<(i64, i64)>), DbError> {
    let now = sqlx::query(
        "SELECT b.drug_id, CAST(SUM(b.qty_on_hand) AS BIGINT) FROM stock_batches b \
         JOIN drugs d ON d.id = b.drug_id WHERE b.store_id = $1 AND d.controlled = 1 \
         GROUP BY b.drug_id",
    )
    .bind(store)
    .fetch_all(db.read())
    .await?;
    let since = sqlx::query(
        "SELECT l.drug_id, CAST(SUM(l.quantity) AS BIGINT) FROM stock_ledger l \
         JOIN drugs d ON d.id = l.drug_id WHERE l.store_id = $1 AND l.at >= $2 \
         AND d.controlled = 1 GROUP BY l.drug_id",
    )
    .bind(store)
    .bind(from)
    .fetch_all(db.read())
    .await?;
    let pairs = |rows: Vec<sqlx::any::AnyRow>| rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok((pairs(now), pairs(since)))
}

/// (dispense line, patient, walk-in name) of the controlled-drug lines of dispenses from
/// `store` issued in `[from, to)`.
pub async fn controlled_recipients(
    db: &Db,
    store: i64,
    from: &str,
    to: &str,
) -> Result<Vec<(i64, Option<i64>, Option<String>)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT dl.id, d.patient_id, d.walk_in_name FROM dispenses d \
         JOIN dispense_lines dl ON dl.dispense_id = d.id JOIN drugs dr ON dr.id = dl.drug_id \
         WHERE d.store_id = $1 AND d.issued_at >= $2 AND d.issued_at < $3 \
         AND dr.controlled = 1",
    )
    .bind(store)
    .bind(from)
    .bind(to)
    .fetch_all(db.read())
    .await?)
}

/// One issued prescription with the MOH 717 D categories of its lines.
#[derive(Debug, Clone)]
pub struct Prescription {
    pub dispense: i64,
    pub patient: i64,
    pub visit: Option<i64>,
    pub issued_at: String,
    pub common: bool,
    pub antibiotic: bool,
    pub special: bool,
}

/// Prescriptions (dispenses of kind `prescription`, issued, with at least one unit issued)
/// issued in `[from, to)` for `facility` (0: every facility), in issue order.
pub async fn prescriptions(
    db: &Db,
    from: &str,
    to: &str,
    facility: i64,
) -> Result<Vec<Prescription>, DbError> {
    let rows = sqlx::query(
        "SELECT d.id, d.patient_id, d.visit_id, d.issued_at, \
         MAX(CASE WHEN dr.moh717 = 'common' THEN 1 ELSE 0 END), \
         MAX(CASE WHEN dr.moh717 = 'antibiotic' THEN 1 ELSE 0 END), \
         MAX(CASE WHEN dr.moh717 = 'special' THEN 1 ELSE 0 END) \
         FROM dispenses d JOIN dispense_lines dl ON dl.dispense_id = d.id \
         JOIN drugs dr ON dr.id = dl.drug_id \
         WHERE d.kind = 'prescription' AND d.state = 'issued' AND d.issued_at >= $1 \
         AND d.issued_at < $2 AND ($3 = 0 OR d.facility_id = $3) AND dl.quantity_issued > 0 \
         GROUP BY d.id, d.patient_id, d.visit_id, d.issued_at ORDER BY d.issued_at, d.id",
    )
    .bind(from)
    .bind(to)
    .bind(facility)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Prescription {
            dispense: r.get(0),
            patient: r.get(1),
            visit: r.get(2),
            issued_at: r.get(3),
            common: r.get::<i64, _>(4) != 0,
            antibiotic: r.get::<i64, _>(5) != 0,
            special: r.get::<i64, _>(6) != 0,
        })
        .collect())
}

mod cards;
pub use cards::*;
