//! SQL of the pharmacy's catalogue: drugs, stores, suppliers and reorder levels. The stock
//! views (what is on hand, per store and per batch, and the stock card) are in [`stock`].

pub mod stock;

use serde::Serialize;
use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};

use crate::catalogue::DrugFields;
use crate::model::{drug_from, Drug};
use crate::select_drugs;

/// `%text%` for LIKE (lower case), with the wildcards of the text itself escaped.
pub fn like_pattern(q: &str) -> String {
    let escaped = q
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// One page of the catalogue (inactive drugs included, after the active ones) matching `q`
/// (name, code or brand), and how many match in all.
pub async fn drugs_page(
    db: &Db,
    q: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Drug>, i64), DbError> {
    let pattern = like_pattern(q);
    let rows = sqlx::query(select_drugs!(
        "WHERE LOWER(d.generic_name) LIKE $1 ESCAPE '\\' OR LOWER(d.code) LIKE $1 ESCAPE '\\' \
         OR LOWER(d.brands) LIKE $1 ESCAPE '\\' \
         ORDER BY d.active DESC, LOWER(d.generic_name), d.strength, d.id \
         LIMIT CAST($2 AS BIGINT) OFFSET CAST($3 AS BIGINT)"
    ))
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(db.read())
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM drugs d WHERE LOWER(d.generic_name) LIKE $1 ESCAPE '\\' \
         OR LOWER(d.code) LIKE $1 ESCAPE '\\' OR LOWER(d.brands) LIKE $1 ESCAPE '\\'",
    )
    .bind(&pattern)
    .fetch_one(db.read())
    .await?;
    Ok((rows.iter().map(drug_from).collect(), total))
}

/// Every drug of the catalogue, by code (for the export).
pub async fn all_drugs(db: &Db) -> Result<Vec<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!("ORDER BY d.code"))
        .fetch_all(db.read())
        .await?
        .iter()
        .map(drug_from)
        .collect())
}

/// How many drugs the catalogue holds.
pub async fn drug_count(db: &Db) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM drugs")
        .fetch_one(db.read())
        .await?)
}

/// A drug by code, read in `tx` (an import compares each row with what is stored).
pub async fn drug_by_code_in(tx: &mut Tx, code: &str) -> Result<Option<Drug>, DbError> {
    Ok(sqlx::query(select_drugs!("WHERE d.code = $1"))
        .bind(code)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| drug_from(&r)))
}

/// When a drug was last saved (the edit form carries it, so a stale save is caught).
pub async fn updated_at(db: &Db, id: i64) -> Result<Option<String>, DbError> {
    Ok(
        sqlx::query_scalar("SELECT updated_at FROM drugs WHERE id = $1")
            .bind(id)
            .fetch_optional(db.read())
            .await?,
    )
}

/// Adds a drug; `None` when its code is taken.
pub async fn insert_drug(tx: &mut Tx, f: &DrugFields, now: &str) -> Result<Option<i64>, DbError> {
    let q = sqlx::query(
        "INSERT INTO drugs (code, generic_name, strength, form, unit, pack_size, route, \
         drug_class, allergy_groups, moh717, controlled, prescription_only, level_of_care, \
         price_cents, brands, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
         ON CONFLICT (code) DO NOTHING RETURNING id",
    )
    .bind(&f.code);
    Ok(bind_fields(q, f)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.get(0)))
}

/// Binds a drug's fields but its code, in the column order [`insert_drug`] and [`update_drug`]
/// write them.
fn bind_fields<'q>(q: AnyQuery<'q>, f: &DrugFields) -> AnyQuery<'q> {
    q.bind(&f.generic_name)
        .bind(&f.strength)
        .bind(&f.form)
        .bind(&f.unit)
        .bind(f.pack_size)
        .bind(&f.route)
        .bind(&f.drug_class)
        .bind(&f.allergy_groups)
        .bind(&f.moh717)
        .bind(i64::from(f.controlled))
        .bind(i64::from(f.prescription_only))
        .bind(f.level_of_care)
        .bind(f.price_cents)
        .bind(&f.brands)
        .bind(i64::from(f.active))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Saves a drug's fields (its code never changes: orders and charges name it), guarded by the
/// `updated_at` the editor saw (`None`: whatever is stored, for imports). False when the drug
/// changed meanwhile (or is gone).
pub async fn update_drug(
    tx: &mut Tx,
    id: i64,
    seen: Option<&str>,
    f: &DrugFields,
    now: &str,
) -> Result<bool, DbError> {
    let q = sqlx::query(
        "UPDATE drugs SET generic_name = $1, strength = $2, form = $3, unit = $4, \
         pack_size = $5, route = $6, drug_class = $7, allergy_groups = $8, moh717 = $9, \
         controlled = $10, prescription_only = $11, level_of_care = $12, price_cents = $13, \
         brands = $14, active = $15, updated_at = $16 \
         WHERE id = $17 AND ($18 = '' OR updated_at = $18)",
    );
    let done = bind_fields(q, f)
        .bind(now)
        .bind(id)
        .bind(seen.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------------
// Stores

/// Adds a store; `None` when its code is taken.
pub async fn insert_store(
    tx: &mut Tx,
    code: &str,
    name: &str,
    kind: &str,
    now: &str,
) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO stores (code, name, kind, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (code) DO NOTHING RETURNING id",
    )
    .bind(code)
    .bind(name)
    .bind(kind)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Renames a store, changes its kind or (de)activates it. False when there is no such store.
pub async fn update_store(
    tx: &mut Tx,
    id: i64,
    name: &str,
    kind: &str,
    active: bool,
) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE stores SET name = $1, kind = $2, active = $3 WHERE id = $4")
        .bind(name)
        .bind(kind)
        .bind(i64::from(active))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------------
// Suppliers

/// A supplier of stock: KEMSA, MEDS, a wholesaler, a donor.
#[derive(Debug, Clone, Serialize)]
pub struct Supplier {
    pub id: i64,
    pub name: String,
    /// kemsa, meds, wholesaler, donor, other.
    pub kind: String,
    pub phone: String,
    pub active: bool,
}

/// Every supplier, active ones first, then by name.
pub async fn suppliers(db: &Db) -> Result<Vec<Supplier>, DbError> {
    let rows = sqlx::query(
        "SELECT id, name, kind, COALESCE(phone, ''), active FROM suppliers \
         ORDER BY active DESC, name, id",
    )
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Supplier {
            id: r.get(0),
            name: r.get(1),
            kind: r.get(2),
            phone: r.get(3),
            active: r.get::<i64, _>(4) != 0,
        })
        .collect())
}

/// Adds a supplier; `None` when the name is taken.
pub async fn insert_supplier(
    tx: &mut Tx,
    name: &str,
    kind: &str,
    phone: &str,
    now: &str,
) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO suppliers (name, kind, phone, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(kind)
    .bind((!phone.is_empty()).then_some(phone))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Changes a supplier. `None` when there is no such supplier, `Some(false)` when the new name
/// is another supplier's.
pub async fn update_supplier(
    tx: &mut Tx,
    id: i64,
    name: &str,
    kind: &str,
    phone: &str,
    active: bool,
) -> Result<Option<bool>, DbError> {
    let clash: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM suppliers WHERE name = $1 AND id <> $2")
            .bind(name)
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    if clash > 0 {
        return Ok(Some(false));
    }
    let done = sqlx::query(
        "UPDATE suppliers SET name = $1, kind = $2, phone = $3, active = $4 WHERE id = $5",
    )
    .bind(name)
    .bind(kind)
    .bind((!phone.is_empty()).then_some(phone))
    .bind(i64::from(active))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok((done.rows_affected() == 1).then_some(true))
}

// ---------------------------------------------------------------------------------------------
// Reorder and maximum levels

/// A drug's levels in one store (0 when none is set).
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub store: i64,
    pub reorder_level: i64,
    pub maximum_level: i64,
}

/// The levels set for a drug, per store.
pub async fn levels_of(db: &Db, drug: i64) -> Result<Vec<Level>, DbError> {
    let rows = sqlx::query(
        "SELECT store_id, reorder_level, maximum_level FROM store_levels WHERE drug_id = $1",
    )
    .bind(drug)
    .fetch_all(db.read())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Level {
            store: r.get(0),
            reorder_level: r.get(1),
            maximum_level: r.get(2),
        })
        .collect())
}

/// Sets a drug's levels in a store; returns what was set before (zeros when nothing was).
pub async fn set_level(
    tx: &mut Tx,
    store: i64,
    drug: i64,
    reorder: i64,
    maximum: i64,
    now: &str,
) -> Result<(i64, i64), DbError> {
    let before = sqlx::query(
        "SELECT reorder_level, maximum_level FROM store_levels WHERE store_id = $1 AND drug_id = $2",
    )
    .bind(store)
    .bind(drug)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
    .unwrap_or((0, 0));
    sqlx::query(
        "INSERT INTO store_levels (store_id, drug_id, reorder_level, maximum_level, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, drug_id) DO UPDATE \
         SET reorder_level = $3, maximum_level = $4, updated_at = $5",
    )
    .bind(store)
    .bind(drug)
    .bind(reorder)
    .bind(maximum)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(before)
}
