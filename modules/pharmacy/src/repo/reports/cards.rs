//! SQL of the dashboard cards and of the ledger checks' record (`stock_checks`).

use std::collections::HashMap;

use sqlx::Row;

use hms_core::db::{values_sql, Db, DbError, Placeholders};

/// Prescription lines waiting with nothing issued yet: (lines, patients, oldest placing time).
pub async fn waiting(db: &Db) -> Result<(i64, i64, Option<String>), DbError> {
    let r = sqlx::query(
        "SELECT COUNT(*), COUNT(DISTINCT patient_id), MIN(placed_at) FROM orders \
         WHERE kind = 'drug' AND state IN ('placed', 'in_progress') AND quantity_done = 0",
    )
    .fetch_one(db.read())
    .await?;
    Ok((r.get(0), r.get(1), r.get(2)))
}

/// A prescription line partly issued, its balance waiting for stock.
#[derive(Debug, Clone)]
pub struct Balance {
    pub code: Option<String>,
    pub display: String,
    pub balance: i64,
    pub placed_at: String,
}

/// How many lines wait with a balance, and the oldest `limit` of them.
pub async fn balances(db: &Db, limit: i64) -> Result<(i64, Vec<Balance>), DbError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM orders WHERE kind = 'drug' AND state = 'in_progress' \
         AND quantity_done > 0 AND quantity_done < quantity",
    )
    .fetch_one(db.read())
    .await?;
    let rows = sqlx::query(
        "SELECT code, display, quantity - quantity_done, placed_at \
         FROM orders WHERE kind = 'drug' AND state = 'in_progress' AND quantity_done > 0 \
         AND quantity_done < quantity ORDER BY placed_at, id LIMIT CAST($1 AS BIGINT)",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok((
        count,
        rows.iter()
            .map(|r| Balance {
                code: r.get(0),
                display: r.get(1),
                balance: r.get(2),
                placed_at: r.get(3),
            })
            .collect(),
    ))
}

/// Usable units (unexpired on `today`) per drug code across the dispensaries.
pub async fn usable_in_dispensaries(db: &Db, today: &str) -> Result<Vec<(String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT d.code, CAST(SUM(b.qty_on_hand) AS BIGINT) FROM stock_batches b \
         JOIN drugs d ON d.id = b.drug_id JOIN stores s ON s.id = b.store_id \
         WHERE s.kind = 'dispensary' AND b.qty_on_hand > 0 AND b.expiry >= $1 GROUP BY d.code",
    )
    .bind(today)
    .fetch_all(db.read())
    .await?)
}

/// An item of a store at or below its reorder level.
#[derive(Debug, Clone)]
pub struct Reorder {
    pub store: i64,
    pub store_name: String,
    pub drug: i64,
    pub drug_name: String,
    pub unit: String,
    pub reorder_level: i64,
    pub usable: i64,
}

/// Items whose usable stock (unexpired on `today`) is at or below their store's reorder level:
/// how many, and the emptiest `limit`.
pub async fn below_reorder(
    db: &Db,
    today: &str,
    limit: i64,
) -> Result<(i64, Vec<Reorder>), DbError> {
    let rows = sqlx::query(
        "SELECT * FROM (SELECT l.store_id, s.name AS store_name, l.drug_id, \
         d.generic_name || CASE WHEN d.strength = '' THEN '' ELSE ' ' || d.strength END \
         || ' ' || d.form AS drug_name, d.unit, l.reorder_level, \
         COALESCE((SELECT CAST(SUM(b.qty_on_hand) AS BIGINT) FROM stock_batches b \
         WHERE b.store_id = l.store_id AND b.drug_id = l.drug_id AND b.expiry >= $1), 0) \
         AS usable FROM store_levels l JOIN stores s ON s.id = l.store_id \
         JOIN drugs d ON d.id = l.drug_id \
         WHERE l.reorder_level > 0 AND d.active = 1 AND s.active = 1) x \
         WHERE x.usable <= x.reorder_level ORDER BY x.usable, x.drug_name, x.store_id",
    )
    .bind(today)
    .fetch_all(db.read())
    .await?;
    let count = rows.len() as i64;
    Ok((
        count,
        rows.iter()
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|r| Reorder {
                store: r.get(0),
                store_name: r.get(1),
                drug: r.get(2),
                drug_name: r.get(3),
                unit: r.get(4),
                reorder_level: r.get(5),
                usable: r.get(6),
            })
            .collect(),
    ))
}

/// Columns of a row of [`figures_sql`]'s VALUES list: store, drug, since, today.
const FIGURE_COLUMNS: usize = 4;

/// The figures of `rows` listed items in one statement: each row of the VALUES list names an
/// item (and the bounds, bound again per row so the list is the statement's only parameters);
/// the two sums are indexed reads (`stock_ledger_card`, `stock_batches_pick`).
fn figures_sql(rows: usize) -> String {
    values_sql(
        Placeholders::Numbered,
        "WITH items (store_id, drug_id, since, today) AS (VALUES ",
        FIGURE_COLUMNS,
        rows,
        ") SELECT i.store_id, i.drug_id, \
         (SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM stock_ledger l \
         WHERE l.drug_id = i.drug_id AND l.store_id = i.store_id AND l.at >= i.since \
         AND l.kind IN ('dispense', 'return')), \
         (SELECT CAST(COALESCE(SUM(b.qty_on_hand), 0) AS BIGINT) FROM stock_batches b \
         WHERE b.store_id = i.store_id AND b.drug_id = i.drug_id AND b.expiry >= i.today) \
         FROM items i",
    )
}

/// For each listed (store, drug): units dispensed (net of returns) from the store since `since`,
/// and its usable units there on `today`: what average monthly consumption and months of stock
/// are made of. One statement for all the lines a card shows.
pub async fn item_figures(
    db: &Db,
    items: &[(i64, i64)],
    since: &str,
    today: &str,
) -> Result<HashMap<(i64, i64), (i64, i64)>, DbError> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    // Only placeholders are built: the values are bound.
    let sql = sqlx::AssertSqlSafe(figures_sql(items.len()));
    let mut q = sqlx::query(sql);
    for &(store, drug) in items {
        q = q.bind(store).bind(drug).bind(since).bind(today);
    }
    let rows = q.fetch_all(db.read()).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let used: i64 = r.get(2);
            ((r.get(0), r.get(1)), ((-used).max(0), r.get(3)))
        })
        .collect())
}

/// A stock take counted and waiting for approval.
#[derive(Debug, Clone)]
pub struct SubmittedCount {
    pub id: i64,
    pub store_name: String,
    pub submitted_at: Option<String>,
    pub submitted_by: Option<String>,
    pub lines: i64,
}

/// How many stock takes wait for approval, and the oldest `limit`.
pub async fn submitted_counts(db: &Db, limit: i64) -> Result<(i64, Vec<SubmittedCount>), DbError> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM stock_takes WHERE state = 'submitted'")
            .fetch_one(db.read())
            .await?;
    let rows = sqlx::query(
        "SELECT t.id, s.name, t.submitted_at, u.full_name, \
         (SELECT COUNT(*) FROM stock_take_lines l WHERE l.stock_take_id = t.id) \
         FROM stock_takes t JOIN stores s ON s.id = t.store_id \
         LEFT JOIN users u ON u.id = t.submitted_by \
         WHERE t.state = 'submitted' ORDER BY t.submitted_at, t.id LIMIT CAST($1 AS BIGINT)",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    Ok((
        count,
        rows.iter()
            .map(|r| SubmittedCount {
                id: r.get(0),
                store_name: r.get(1),
                submitted_at: r.get(2),
                submitted_by: r.get(3),
                lines: r.get(4),
            })
            .collect(),
    ))
}

/// A recorded ledger check.
#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub ran_at: String,
    pub finished_at: Option<String>,
    pub night: Option<String>,
    pub batches: i64,
    pub differences: i64,
    pub detail: String,
}

/// The latest ledger check, finished or still running.
pub async fn last_check(db: &Db) -> Result<Option<CheckRecord>, DbError> {
    let r = sqlx::query(
        "SELECT ran_at, finished_at, night, batches, differences, detail FROM stock_checks \
         ORDER BY ran_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(db.read())
    .await?;
    Ok(r.map(|r| CheckRecord {
        ran_at: r.get(0),
        finished_at: r.get(1),
        night: r.get(2),
        batches: r.get(3),
        differences: r.get(4),
        detail: r.get(5),
    }))
}

/// Claims `night` for the nightly check: `Some(id)` for the one server that inserts its row,
/// `None` when another got there first (the night's row is unique).
pub async fn claim_night(db: &Db, night: &str, at: &str) -> Result<Option<i64>, DbError> {
    let mut tx = db.begin().await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO stock_checks (ran_at, batches, differences, detail, night) \
         VALUES ($1, 0, 0, '', $2) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(at)
    .bind(night)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Records a check run by hand (no night); returns its id.
pub async fn start_check(db: &Db, at: &str) -> Result<i64, DbError> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO stock_checks (ran_at, batches, differences, detail) \
         VALUES ($1, 0, 0, '') RETURNING id",
    )
    .bind(at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Writes a check's result into its row.
pub async fn finish_check(
    db: &Db,
    id: i64,
    batches: i64,
    differences: i64,
    detail: &str,
    at: &str,
) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE stock_checks SET batches = $1, differences = $2, detail = $3, finished_at = $4 \
         WHERE id = $5",
    )
    .bind(batches)
    .bind(differences)
    .bind(detail)
    .bind(at)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
