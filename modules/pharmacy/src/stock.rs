//! The stock ledger's one writer. Every movement of stock, whatever screen causes it (a receipt,
//! a dispense, a return, an adjustment, a transfer, a stock take), goes through [`post`]: one
//! guarded update of the batch's balance and one ledger row with the balance after, in the
//! caller's transaction. Nothing else writes `stock_batches.qty_on_hand` or `stock_ledger`, so for
//! every batch the ledger adds up to the balance; [`check`] proves it.
//!
//! Taking stock out is `UPDATE ... SET qty_on_hand = qty_on_hand - n WHERE id = b AND
//! qty_on_hand >= n [AND expiry >= today]`, checked for one row: of two dispenses racing for
//! the last units one wins and the other is told how many are left, and the database's CHECK
//! keeps the balance at zero or above whatever happens. Batches are touched in (expiry, id)
//! order, the order [`pick`] returns them in, so two dispenses never deadlock on PostgreSQL;
//! SQLite's single writer takes `BEGIN IMMEDIATE` (see `Db::begin`).

use chrono::NaiveDate;
use sqlx::Row;

use hms_core::db::{Db, DbError, Tx};

/// What a movement is, as the ledger names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Receipt,
    Dispense,
    Return,
    Adjustment,
    TransferOut,
    TransferIn,
    StockTake,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Receipt => "receipt",
            Kind::Dispense => "dispense",
            Kind::Return => "return",
            Kind::Adjustment => "adjustment",
            Kind::TransferOut => "transfer_out",
            Kind::TransferIn => "transfer_in",
            Kind::StockTake => "stock_take",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        [
            Kind::Receipt,
            Kind::Dispense,
            Kind::Return,
            Kind::Adjustment,
            Kind::TransferOut,
            Kind::TransferIn,
            Kind::StockTake,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// One movement of one batch. `quantity` is signed: positive in, negative out.
#[derive(Debug, Clone)]
pub struct Movement<'a> {
    pub batch: i64,
    pub quantity: i64,
    pub kind: Kind,
    /// What caused it: `receipt_line:12`, `dispense_line:40`, `adjustment:3`, `transfer:7`,
    /// `stock_take_line:9`.
    pub reference: &'a str,
    pub reason: Option<&'a str>,
    pub user: Option<i64>,
    /// RFC 3339 UTC.
    pub at: &'a str,
    /// Taking stock out for use (dispense, transfer): the batch must not have expired by this
    /// day. `None` for write-offs and corrections, which may touch expired stock.
    pub usable_on: Option<NaiveDate>,
}

/// Why a movement did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StockError {
    /// The batch holds fewer units than asked (or has expired, for use): `available` is what
    /// it holds usable now.
    #[error("only {available} left in this batch")]
    Short { batch: i64, available: i64 },
    #[error("no such batch")]
    NoBatch,
    #[error("a movement of no units")]
    Nothing,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Moves stock: the guarded balance update and its ledger row, in `tx`. Returns the balance
/// after. A zero quantity is a programming error and refused.
pub async fn post(tx: &mut Tx, m: &Movement<'_>) -> Result<i64, StockError> {
    if m.quantity == 0 {
        return Err(StockError::Nothing);
    }
    let moved = if m.quantity < 0 {
        let n = -m.quantity;
        match m.usable_on {
            Some(day) => sqlx::query(
                "UPDATE stock_batches SET qty_on_hand = qty_on_hand - $1 \
                 WHERE id = $2 AND qty_on_hand >= $1 AND expiry >= $3 \
                 RETURNING store_id, drug_id, qty_on_hand",
            )
            .bind(n)
            .bind(m.batch)
            .bind(day.format("%Y-%m-%d").to_string()),
            None => sqlx::query(
                "UPDATE stock_batches SET qty_on_hand = qty_on_hand - $1 \
                 WHERE id = $2 AND qty_on_hand >= $1 \
                 RETURNING store_id, drug_id, qty_on_hand",
            )
            .bind(n)
            .bind(m.batch),
        }
        .fetch_optional(&mut **tx)
        .await
        .map_err(DbError::from)?
    } else {
        sqlx::query(
            "UPDATE stock_batches SET qty_on_hand = qty_on_hand + $1 WHERE id = $2 \
             RETURNING store_id, drug_id, qty_on_hand",
        )
        .bind(m.quantity)
        .bind(m.batch)
        .fetch_optional(&mut **tx)
        .await
        .map_err(DbError::from)?
    };
    let Some(row) = moved else {
        return Err(match usable(tx, m.batch, m.usable_on).await? {
            Some(available) => StockError::Short {
                batch: m.batch,
                available,
            },
            None => StockError::NoBatch,
        });
    };
    let (store, drug, balance): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    sqlx::query(
        "INSERT INTO stock_ledger (store_id, drug_id, batch_id, quantity, balance_after, kind, \
         reference, reason, user_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(store)
    .bind(drug)
    .bind(m.batch)
    .bind(m.quantity)
    .bind(balance)
    .bind(m.kind.code())
    .bind(m.reference)
    .bind(m.reason)
    .bind(m.user)
    .bind(m.at)
    .execute(&mut **tx)
    .await
    .map_err(DbError::from)?;
    Ok(balance)
}

/// What a batch holds that may be used on `day` (all of it when `day` is `None`); `None` when
/// there is no such batch.
async fn usable(tx: &mut Tx, batch: i64, day: Option<NaiveDate>) -> Result<Option<i64>, DbError> {
    let row = sqlx::query("SELECT qty_on_hand, expiry FROM stock_batches WHERE id = $1")
        .bind(batch)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| {
        let qty: i64 = r.get(0);
        let expiry: String = r.get(1);
        match day {
            Some(d) if expiry < d.format("%Y-%m-%d").to_string() => 0,
            _ => qty,
        }
    }))
}

/// The batch of (store, drug, batch number, expiry), made empty the first time it is received
/// (a receipt then posts its units through [`post`]). Returns its id.
pub async fn batch(
    tx: &mut Tx,
    store: i64,
    drug: i64,
    batch_no: &str,
    expiry: NaiveDate,
    unit_cost_cents: i64,
    at: &str,
) -> Result<i64, DbError> {
    let expiry = expiry.format("%Y-%m-%d").to_string();
    sqlx::query(
        "INSERT INTO stock_batches (store_id, drug_id, batch_no, expiry, unit_cost_cents, \
         qty_on_hand, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6) \
         ON CONFLICT (store_id, drug_id, batch_no, expiry) DO NOTHING",
    )
    .bind(store)
    .bind(drug)
    .bind(batch_no)
    .bind(&expiry)
    .bind(unit_cost_cents)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "SELECT id FROM stock_batches \
         WHERE store_id = $1 AND drug_id = $2 AND batch_no = $3 AND expiry = $4",
    )
    .bind(store)
    .bind(drug)
    .bind(batch_no)
    .bind(&expiry)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// A part of a pick: take `quantity` from this batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub batch: i64,
    pub batch_no: String,
    /// `YYYY-MM-DD`.
    pub expiry: String,
    pub quantity: i64,
}

/// First-expiry-first-out: the unexpired batches of `drug` in `store` that together give
/// `wanted` units, earliest expiry first (then oldest batch), and how many units are missing
/// when they do not hold enough. Reads in `tx` so the pick and the moves see the same stock.
pub async fn pick(
    tx: &mut Tx,
    store: i64,
    drug: i64,
    wanted: i64,
    day: NaiveDate,
) -> Result<(Vec<Take>, i64), DbError> {
    let rows = sqlx::query(
        "SELECT id, batch_no, expiry, qty_on_hand FROM stock_batches \
         WHERE store_id = $1 AND drug_id = $2 AND expiry >= $3 AND qty_on_hand > 0 \
         ORDER BY expiry, id",
    )
    .bind(store)
    .bind(drug)
    .bind(day.format("%Y-%m-%d").to_string())
    .fetch_all(&mut **tx)
    .await?;
    let mut left = wanted;
    let mut takes = Vec::new();
    for r in rows {
        if left <= 0 {
            break;
        }
        let on_hand: i64 = r.get(3);
        let quantity = on_hand.min(left);
        left -= quantity;
        takes.push(Take {
            batch: r.get(0),
            batch_no: r.get(1),
            expiry: r.get(2),
            quantity,
        });
    }
    Ok((takes, left.max(0)))
}

/// Takes `wanted` units of `drug` out of `store` for use, first expiry first, across as many
/// batches as it takes, each move posted with `reference`. When a guarded update loses a race
/// (PostgreSQL: another dispense took the units between the pick and the move) it picks
/// again. Returns the takes made and the units it could not find (0 when all were taken); the
/// caller decides whether a shortfall rolls back or stands as a partial dispense.
#[allow(clippy::too_many_arguments)]
pub async fn take_fefo(
    tx: &mut Tx,
    store: i64,
    drug: i64,
    wanted: i64,
    kind: Kind,
    reference: &str,
    user: Option<i64>,
    at: &str,
    day: NaiveDate,
) -> Result<(Vec<Take>, i64), DbError> {
    let mut taken: Vec<Take> = Vec::new();
    let mut left = wanted;
    // Each lost race leaves less stock to race for, so this ends; the bound is a backstop.
    for _ in 0..16 {
        let (takes, _) = pick(tx, store, drug, left, day).await?;
        if takes.is_empty() {
            break;
        }
        let mut lost = false;
        for t in takes {
            let m = Movement {
                batch: t.batch,
                quantity: -t.quantity,
                kind,
                reference,
                reason: None,
                user,
                at,
                usable_on: Some(day),
            };
            match post(tx, &m).await {
                Ok(_) => {
                    left -= t.quantity;
                    taken.push(t);
                }
                Err(StockError::Short { .. } | StockError::NoBatch | StockError::Nothing) => {
                    lost = true;
                    break;
                }
                Err(StockError::Db(e)) => return Err(e),
            }
        }
        if !lost || left == 0 {
            break;
        }
    }
    Ok((taken, left))
}

/// A batch whose ledger does not add up to its balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub batch: i64,
    pub store: i64,
    pub drug: i64,
    pub balance: i64,
    pub ledger: i64,
}

/// Every batch whose balance differs from the sum of its ledger rows (empty when the books
/// agree), and how many batches were checked. One grouped query.
pub async fn check(db: &Db) -> Result<(i64, Vec<Difference>), DbError> {
    let batches: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stock_batches")
        .fetch_one(db.read())
        .await?;
    let rows = sqlx::query(
        "SELECT b.id, b.store_id, b.drug_id, b.qty_on_hand, COALESCE(l.total, 0) \
         FROM stock_batches b \
         LEFT JOIN (SELECT batch_id, CAST(SUM(quantity) AS BIGINT) AS total \
                    FROM stock_ledger GROUP BY batch_id) l \
           ON l.batch_id = b.id \
         WHERE b.qty_on_hand <> COALESCE(l.total, 0) ORDER BY b.id",
    )
    .fetch_all(db.read())
    .await?;
    Ok((
        batches,
        rows.into_iter()
            .map(|r| Difference {
                batch: r.get(0),
                store: r.get(1),
                drug: r.get(2),
                balance: r.get(3),
                ledger: r.get(4),
            })
            .collect(),
    ))
}

/// The expiry printed on a pack, `MM/YYYY` (or `MM/YY`), as the last day of that month; a full
/// date is taken as it is.
pub fn pack_expiry(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Some((m, y)) = text.split_once('/') {
        if !y.contains('/') {
            let month: u32 = m.trim().parse().ok()?;
            let mut year: i32 = y.trim().parse().ok()?;
            if y.trim().len() == 2 {
                year += 2000;
            }
            let first_next = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)?
            };
            return first_next.pred_opt();
        }
    }
    hms_core::dates::read(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_expiry_is_the_last_day_of_its_month() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(pack_expiry("03/2027"), Some(d(2027, 3, 31)));
        assert_eq!(pack_expiry("02/2028"), Some(d(2028, 2, 29)));
        assert_eq!(pack_expiry("12/26"), Some(d(2026, 12, 31)));
        assert_eq!(pack_expiry("13/2027"), None);
        assert_eq!(pack_expiry("soon"), None);
    }

    #[test]
    fn every_kind_reads_back_from_its_code() {
        for k in [
            Kind::Receipt,
            Kind::Dispense,
            Kind::Return,
            Kind::Adjustment,
        ] {
            assert_eq!(Kind::parse(k.code()), Some(k));
        }
        assert_eq!(Kind::parse("gift"), None);
    }
}
