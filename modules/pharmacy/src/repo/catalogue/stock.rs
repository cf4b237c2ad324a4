//! What is on the shelves, as the screens read it: usable stock per drug (for prescribers and
//! other screens' drug pickers), the stock page of a store (one grouped query per page, flags
//! included), a drug's batches in every store and its stock card (its ledger rows).
//!
//! Usable means unexpired: a batch past its expiry date still on the shelf counts as out of
//! stock until it is written off.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Db, DbError};

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A drug found by a search, with its usable stock where asked.
#[derive(Debug, Clone, Serialize)]
pub struct DrugStock {
    pub id: i64,
    pub code: String,
    /// "Amoxicillin 500 mg capsule".
    pub name: String,
    pub unit: String,
    pub pack_size: i64,
    pub price_cents: i64,
    pub prescription_only: bool,
    pub controlled: bool,
    pub allergy_groups: String,
    /// Usable (unexpired) units: in the chosen store, or in all active dispensaries.
    pub usable: i64,
    /// The same per store holding some, by store name.
    pub places: Vec<Place>,
}

/// Usable units of a drug in one store.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub store: i64,
    pub name: String,
    pub usable: i64,
}

fn display(name: &str, strength: &str, form: &str) -> String {
    [name, strength, form]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Active drugs matching `pattern` (a LIKE pattern over name, code and brands; or the exact
/// `code` when given) with their usable stock on `today`: in `store`, or in every active
/// dispensary when `store` is `None`, in all and per store. One grouped query: the drugs are
/// chosen first, then their batches summed per store.
pub async fn search(
    db: &Db,
    pattern: &str,
    code: Option<&str>,
    store: Option<i64>,
    today: NaiveDate,
    limit: i64,
) -> Result<Vec<DrugStock>, DbError> {
    let rows = sqlx::query(
        "SELECT p.id, p.code, p.generic_name, p.strength, p.form, p.unit, p.pack_size, \
         p.price_cents, p.prescription_only, p.controlled, p.allergy_groups, s.id, s.name, \
         CAST(COALESCE(SUM(b.qty_on_hand), 0) AS BIGINT) \
         FROM (SELECT d.id, d.code, d.generic_name, d.strength, d.form, d.unit, d.pack_size, \
                 d.price_cents, d.prescription_only, d.controlled, d.allergy_groups \
               FROM drugs d WHERE d.active = 1 AND ( \
                 ($3 = '' AND (LOWER(d.generic_name) LIKE $4 ESCAPE '\\' \
                   OR LOWER(d.code) LIKE $4 ESCAPE '\\' OR LOWER(d.brands) LIKE $4 ESCAPE '\\')) \
                 OR d.code = $3) \
               ORDER BY LOWER(d.generic_name), d.strength, d.id LIMIT CAST($5 AS BIGINT)) p \
         LEFT JOIN stock_batches b ON b.drug_id = p.id AND b.qty_on_hand > 0 AND b.expiry >= $1 \
           AND ((CAST($2 AS BIGINT) = 0 AND b.store_id IN \
                  (SELECT x.id FROM stores x WHERE x.kind = 'dispensary' AND x.active = 1)) \
                OR b.store_id = CAST($2 AS BIGINT)) \
         LEFT JOIN stores s ON s.id = b.store_id \
         GROUP BY p.id, p.code, p.generic_name, p.strength, p.form, p.unit, p.pack_size, \
           p.price_cents, p.prescription_only, p.controlled, p.allergy_groups, s.id, s.name \
         ORDER BY LOWER(p.generic_name), p.strength, p.id, s.name",
    )
    .bind(ymd(today))
    .bind(store.unwrap_or(0))
    .bind(code.unwrap_or(""))
    .bind(pattern)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    let mut found: Vec<DrugStock> = Vec::new();
    for r in rows {
        let id: i64 = r.get(0);
        if found.last().map(|d| d.id) != Some(id) {
            found.push(DrugStock {
                id,
                code: r.get(1),
                name: display(
                    &r.get::<String, _>(2),
                    &r.get::<String, _>(3),
                    &r.get::<String, _>(4),
                ),
                unit: r.get(5),
                pack_size: r.get(6),
                price_cents: r.get(7),
                prescription_only: r.get::<i64, _>(8) != 0,
                controlled: r.get::<i64, _>(9) != 0,
                allergy_groups: r.get(10),
                usable: 0,
                places: Vec::new(),
            });
        }
        let (place, name, usable): (Option<i64>, Option<String>, i64) =
            (r.get(11), r.get(12), r.get(13));
        if let (Some(store), Some(name), Some(d)) = (place, name, found.last_mut()) {
            d.usable += usable;
            d.places.push(Place {
                store,
                name,
                usable,
            });
        }
    }
    Ok(found)
}

/// What the stock page filters on.
pub const FLAGS: &[&str] = &["low", "out", "expiring", "expired"];

/// The sums of a store's batches of a drug (`b`, on hand only) and its levels (`l`), with
/// `$2` today and `$3` the end of the expiry warning: usable, expired, expiring, earliest
/// usable expiry, reorder level, maximum level.
macro_rules! stock_sums {
    () => {
        "CAST(COALESCE(SUM(CASE WHEN b.expiry >= $2 THEN b.qty_on_hand ELSE 0 END), 0) AS BIGINT) AS usable, \
         CAST(COALESCE(SUM(CASE WHEN b.expiry < $2 THEN b.qty_on_hand ELSE 0 END), 0) AS BIGINT) AS expired, \
         CAST(COALESCE(SUM(CASE WHEN b.expiry >= $2 AND b.expiry <= $3 THEN b.qty_on_hand ELSE 0 END), 0) AS BIGINT) AS expiring, \
         MIN(CASE WHEN b.expiry >= $2 THEN b.expiry END) AS earliest, \
         COALESCE(MAX(l.reorder_level), 0) AS reorder_level, \
         COALESCE(MAX(l.maximum_level), 0) AS maximum_level"
    };
}

/// One line of a store's stock page.
#[derive(Debug, Clone, Serialize)]
pub struct StockLine {
    pub drug: i64,
    pub code: String,
    pub name: String,
    pub unit: String,
    /// Unexpired units on the shelf.
    pub usable: i64,
    /// Units on the shelf past their expiry (counted as out, waiting to be written off).
    pub expired: i64,
    /// Usable units expiring within the warning window.
    pub expiring: i64,
    /// Earliest expiry of the usable stock, `YYYY-MM-DD`.
    pub earliest: Option<String>,
    pub reorder_level: i64,
    pub maximum_level: i64,
    pub below_reorder: bool,
    pub out: bool,
    /// False for a drug taken out of use that still has stock here (shown so it is written
    /// off or used up).
    pub active: bool,
}

/// One page of the stock of `store` on `today`: drugs in use, and drugs out of use that still
/// have stock there, matching `pattern`, with `flag`
/// (one of [`FLAGS`], or "" for all), and how many lines match in all. Stock expiring up to
/// `soon` (inclusive) is flagged. One grouped query; the total comes with it.
/// `flag` must be "" or one of [`FLAGS`].
#[allow(clippy::too_many_arguments)]
pub async fn store_page(
    db: &Db,
    store: i64,
    pattern: &str,
    flag: &str,
    today: NaiveDate,
    soon: NaiveDate,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StockLine>, i64), DbError> {
    // Without a flag only the page's drugs are summed: the page is read from `drugs` alone in
    // the order of `drugs_listing` (no sort, no scan past the page when nothing is searched),
    // and counted apart. A flag needs every drug's sums to filter on.
    let rows = if flag.is_empty() {
        sqlx::query(concat!(
            "SELECT p.id, p.code, p.generic_name, p.strength, p.form, p.unit, ",
            stock_sums!(),
            ", 0, p.active \
             FROM (SELECT d.id, d.code, d.generic_name, d.strength, d.form, d.unit, d.active \
                   FROM drugs d WHERE (d.active = 1 OR d.id IN (SELECT h.drug_id FROM stock_batches h \
                     WHERE h.store_id = $1 AND h.qty_on_hand > 0)) \
                     AND ($4 = '%%' OR LOWER(d.generic_name) LIKE $4 ESCAPE '\\' \
                     OR LOWER(d.code) LIKE $4 ESCAPE '\\' OR LOWER(d.brands) LIKE $4 ESCAPE '\\') \
                   ORDER BY LOWER(d.generic_name), d.strength, d.id \
                   LIMIT CAST($5 AS BIGINT) OFFSET CAST($6 AS BIGINT)) p \
             LEFT JOIN stock_batches b ON b.drug_id = p.id AND b.store_id = $1 AND b.qty_on_hand > 0 \
             LEFT JOIN store_levels l ON l.drug_id = p.id AND l.store_id = $1 \
             GROUP BY p.id, p.code, p.generic_name, p.strength, p.form, p.unit, p.active \
             ORDER BY LOWER(p.generic_name), p.strength, p.id"
        ))
        .bind(store)
        .bind(ymd(today))
        .bind(ymd(soon))
        .bind(pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(db.read())
        .await?
    } else {
        sqlx::query(concat!(
            "SELECT s.id, s.code, s.generic_name, s.strength, s.form, s.unit, s.usable, s.expired, \
               s.expiring, s.earliest, s.reorder_level, s.maximum_level, COUNT(*) OVER (), s.active \
             FROM (SELECT d.id, d.code, d.generic_name, d.strength, d.form, d.unit, d.active, ",
            stock_sums!(),
            " FROM drugs d \
               LEFT JOIN stock_batches b ON b.drug_id = d.id AND b.store_id = $1 AND b.qty_on_hand > 0 \
               LEFT JOIN store_levels l ON l.drug_id = d.id AND l.store_id = $1 \
               WHERE (d.active = 1 OR d.id IN (SELECT h.drug_id FROM stock_batches h \
                 WHERE h.store_id = $1 AND h.qty_on_hand > 0)) \
                 AND (LOWER(d.generic_name) LIKE $4 ESCAPE '\\' \
                 OR LOWER(d.code) LIKE $4 ESCAPE '\\' OR LOWER(d.brands) LIKE $4 ESCAPE '\\') \
               GROUP BY d.id, d.code, d.generic_name, d.strength, d.form, d.unit, d.active) s \
             WHERE ($5 = 'low' AND s.reorder_level > 0 AND s.usable <= s.reorder_level) \
               OR ($5 = 'out' AND s.usable = 0) \
               OR ($5 = 'expiring' AND s.expiring > 0) \
               OR ($5 = 'expired' AND s.expired > 0) \
             ORDER BY LOWER(s.generic_name), s.strength, s.id \
             LIMIT CAST($6 AS BIGINT) OFFSET CAST($7 AS BIGINT)"
        ))
        .bind(store)
        .bind(ymd(today))
        .bind(ymd(soon))
        .bind(pattern)
        .bind(flag)
        .bind(limit)
        .bind(offset)
        .fetch_all(db.read())
        .await?
    };
    let total = if flag.is_empty() {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM drugs d WHERE (d.active = 1 OR d.id IN (SELECT h.drug_id \
             FROM stock_batches h WHERE h.store_id = $1 AND h.qty_on_hand > 0)) \
             AND ($2 = '%%' OR LOWER(d.generic_name) LIKE $2 ESCAPE '\\' \
             OR LOWER(d.code) LIKE $2 ESCAPE '\\' OR LOWER(d.brands) LIKE $2 ESCAPE '\\')",
        )
        .bind(store)
        .bind(pattern)
        .fetch_one(db.read())
        .await?
    } else {
        rows.first().map(|r| r.get::<i64, _>(12)).unwrap_or(0)
    };
    let lines = rows
        .into_iter()
        .map(|r| {
            let usable: i64 = r.get(6);
            let reorder_level: i64 = r.get(10);
            StockLine {
                drug: r.get(0),
                code: r.get(1),
                name: display(
                    &r.get::<String, _>(2),
                    &r.get::<String, _>(3),
                    &r.get::<String, _>(4),
                ),
                unit: r.get(5),
                usable,
                expired: r.get(7),
                expiring: r.get(8),
                earliest: r.get(9),
                reorder_level,
                maximum_level: r.get(11),
                below_reorder: reorder_level > 0 && usable <= reorder_level,
                out: usable == 0,
                active: r.get::<i64, _>(13) != 0,
            }
        })
        .collect();
    Ok((lines, total))
}

/// A batch on a shelf.
#[derive(Debug, Clone, Serialize)]
pub struct BatchLine {
    pub id: i64,
    pub store: i64,
    pub store_name: String,
    pub batch_no: String,
    /// `YYYY-MM-DD`.
    pub expiry: String,
    pub qty_on_hand: i64,
    pub unit_cost_cents: i64,
    pub expired: bool,
    pub expiring: bool,
}

/// A drug's batches holding stock, in every store, first expiry first (the order they are
/// dispensed in).
pub async fn batches(
    db: &Db,
    drug: i64,
    today: NaiveDate,
    soon: NaiveDate,
) -> Result<Vec<BatchLine>, DbError> {
    let rows = sqlx::query(
        "SELECT b.id, b.store_id, s.name, b.batch_no, b.expiry, b.qty_on_hand, b.unit_cost_cents \
         FROM stock_batches b JOIN stores s ON s.id = b.store_id \
         WHERE b.drug_id = $1 AND b.qty_on_hand > 0 ORDER BY s.name, b.store_id, b.expiry, b.id",
    )
    .bind(drug)
    .fetch_all(db.read())
    .await?;
    let (today, soon) = (ymd(today), ymd(soon));
    Ok(rows
        .into_iter()
        .map(|r| {
            let expiry: String = r.get(4);
            BatchLine {
                id: r.get(0),
                store: r.get(1),
                store_name: r.get(2),
                batch_no: r.get(3),
                expired: expiry < today,
                expiring: expiry >= today && expiry <= soon,
                expiry,
                qty_on_hand: r.get(5),
                unit_cost_cents: r.get(6),
            }
        })
        .collect())
}

/// A row of a stock card: one movement of the drug.
#[derive(Debug, Clone, Serialize)]
pub struct CardLine {
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    pub store_name: String,
    pub batch_no: String,
    pub kind: String,
    pub quantity: i64,
    pub balance_after: i64,
    pub reference: String,
    pub reason: String,
    pub user: String,
}

/// One page of a drug's stock card (its ledger rows, newest first), in `store` or in all
/// stores (`None`), and how many rows there are in all.
pub async fn card(
    db: &Db,
    drug: i64,
    store: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CardLine>, i64), DbError> {
    let store = store.unwrap_or(0);
    let rows = sqlx::query(
        "SELECT l.id, l.at, s.name, b.batch_no, l.kind, l.quantity, l.balance_after, \
         l.reference, COALESCE(l.reason, ''), COALESCE(u.full_name, '') \
         FROM stock_ledger l JOIN stores s ON s.id = l.store_id \
         JOIN stock_batches b ON b.id = l.batch_id \
         LEFT JOIN users u ON u.id = l.user_id \
         WHERE l.drug_id = $1 AND (CAST($2 AS BIGINT) = 0 OR l.store_id = CAST($2 AS BIGINT)) \
         ORDER BY l.at DESC, l.id DESC LIMIT CAST($3 AS BIGINT) OFFSET CAST($4 AS BIGINT)",
    )
    .bind(drug)
    .bind(store)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.read())
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM stock_ledger l WHERE l.drug_id = $1 \
         AND (CAST($2 AS BIGINT) = 0 OR l.store_id = CAST($2 AS BIGINT))",
    )
    .bind(drug)
    .bind(store)
    .fetch_one(db.read())
    .await?;
    Ok((
        rows.into_iter()
            .map(|r| CardLine {
                id: r.get(0),
                at: r.get(1),
                store_name: r.get(2),
                batch_no: r.get(3),
                kind: r.get(4),
                quantity: r.get(5),
                balance_after: r.get(6),
                reference: r.get(7),
                reason: r.get(8),
                user: r.get(9),
            })
            .collect(),
        total,
    ))
}
