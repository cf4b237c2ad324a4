//! Records the pharmacy tests start from, written straight to the tables through the stock
//! writer (each area's screens are tested in its own file).

use chrono::NaiveDate;
use hms_core::db::Db;
use hms_pharmacy::stock::{self, Kind, Movement};

/// A dispensary and a drug (paracetamol 500 mg tablets, KSh 2 each); returns (store, drug).
pub async fn store_and_drug(db: &Db) -> (i64, i64) {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await.unwrap();
    let store: i64 = sqlx::query_scalar(
        "INSERT INTO stores (code, name, kind, created_at) VALUES ('T1', 'Test dispensary', \
         'dispensary', $1) RETURNING id",
    )
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let drug: i64 = sqlx::query_scalar(
        "INSERT INTO drugs (code, generic_name, strength, form, unit, price_cents, created_at, \
         updated_at) VALUES ('T-PCM', 'Paracetamol', '500 mg', 'tablet', 'tablet', 200, $1, $1) \
         RETURNING id",
    )
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (store, drug)
}

/// Puts `quantity` units of a batch on the shelf; returns the batch id.
pub async fn receive(
    db: &Db,
    store: i64,
    drug: i64,
    batch_no: &str,
    expiry: NaiveDate,
    quantity: i64,
) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await.unwrap();
    let batch = stock::batch(&mut tx, store, drug, batch_no, expiry, 150, &now)
        .await
        .unwrap();
    let m = Movement {
        batch,
        quantity,
        kind: Kind::Receipt,
        reference: "receipt_line:0",
        reason: None,
        user: None,
        at: &now,
        usable_on: None,
    };
    stock::post(&mut tx, &m).await.unwrap();
    tx.commit().await.unwrap();
    batch
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}
