//! The records the report tests start from: a known October in a test dispensary, written
//! with SQL (dispenses, adjustments, patients) and the stock writer (every movement), and the
//! report's CSV read back as cells.

use std::process::ExitCode;

use chrono::NaiveDate;
use hms_core::config::Loaded;
use hms_core::db::Db;
use hms_pharmacy::stock::{self, Kind, Movement};
use hms_testkit::{Client, TestApp};

use crate::fixtures::{day, store_and_drug};

/// A drug of the catalogue; returns its id.
pub async fn drug(
    db: &Db,
    code: &str,
    name: &str,
    moh717: &str,
    controlled: bool,
    price: i64,
) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO drugs (code, generic_name, strength, form, unit, moh717, controlled, \
         price_cents, created_at, updated_at) \
         VALUES ($1, $2, '', 'tablet', 'tablet', $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(code)
    .bind(name)
    .bind(moh717)
    .bind(i64::from(controlled))
    .bind(price)
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// An empty batch; returns its id.
pub async fn batch(db: &Db, store: i64, drug: i64, no: &str, expiry: NaiveDate, cost: i64) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = stock::batch(
        &mut tx,
        store,
        drug,
        no,
        expiry,
        cost,
        "2026-08-01T07:00:00.000Z",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// One movement at a chosen time (RFC 3339 UTC).
pub async fn post(db: &Db, batch: i64, quantity: i64, kind: Kind, reference: &str, at: &str) {
    let mut tx = db.begin().await.unwrap();
    let m = Movement {
        batch,
        quantity,
        kind,
        reference,
        reason: None,
        user: None,
        at,
        usable_on: None,
    };
    stock::post(&mut tx, &m).await.unwrap();
    tx.commit().await.unwrap();
}

/// An adjustment row with its reason; returns the ledger reference `adjustment:<id>`.
pub async fn adjustment(
    db: &Db,
    store: i64,
    drug: i64,
    batch: i64,
    quantity: i64,
    reason: &str,
    at: &str,
) -> String {
    let mut tx = db.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO adjustments (store_id, drug_id, batch_id, quantity, reason, form_token, \
         made_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(store)
    .bind(drug)
    .bind(batch)
    .bind(quantity)
    .bind(reason)
    .bind(format!("adj-{batch}-{at}"))
    .bind(at)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    format!("adjustment:{id}")
}

/// A patient; returns the id.
pub async fn patient(db: &Db, number: &str, first: &str, last: &str, born: &str) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO patients (number, first_name, last_name, sex, date_of_birth, created_at, \
         updated_at) VALUES ($1, $2, $3, 'female', $4, $5, $5) RETURNING id",
    )
    .bind(number)
    .bind(first)
    .bind(last)
    .bind(born)
    .bind(&now)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A dispense (`issued_at` `None`: prepared only) with lines (drug, units issued); returns
/// the line ids.
pub async fn dispense(
    db: &Db,
    store: i64,
    kind: &str,
    patient: Option<i64>,
    issued_at: Option<&str>,
    lines: &[(i64, i64)],
) -> Vec<i64> {
    let mut tx = db.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO dispenses (kind, store_id, patient_id, walk_in_name, state, form_token, \
         prepared_at, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(kind)
    .bind(store)
    .bind(patient)
    .bind(patient.is_none().then_some("Juma"))
    .bind(if issued_at.is_some() {
        "issued"
    } else {
        "prepared"
    })
    .bind(format!(
        "tok-{kind}-{patient:?}-{issued_at:?}-{}",
        lines.len()
    ))
    .bind(issued_at.unwrap_or("2026-10-20T06:00:00.000Z"))
    .bind(issued_at)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let mut ids = Vec::new();
    for (drug, units) in lines {
        let line: i64 = sqlx::query_scalar(
            "INSERT INTO dispense_lines (dispense_id, drug_id, quantity, quantity_issued, \
             unit_price_cents, instructions) VALUES ($1, $2, $3, $4, 200, '1 x 3 for 5 days') \
             RETURNING id",
        )
        .bind(id)
        .bind(drug)
        .bind(*units)
        .bind(if issued_at.is_some() { *units } else { 0 })
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        ids.push(line);
    }
    tx.commit().await.unwrap();
    ids
}

pub struct October {
    pub store: i64,
    /// The controlled drug (morphine).
    pub mor: i64,
    /// Born 1990, three prescriptions issued (one on 1 November, Nairobi time).
    pub adult: i64,
    /// Born May 2024: under five in October 2026.
    pub child: i64,
}

/// October 2026 in the test dispensary (times UTC; Nairobi is 3 hours ahead):
/// - paracetamol (T-PCM): batch A (02/2027, 1.00 each) received 100 on 20 Sep, 10 dispensed on
///   25 Sep (opening 90); batch B (06/2028, 1.20 each) received 50 on 2 Oct and 20 transferred
///   in on 3 Oct; 30 dispensed on 20 Oct and 5 returned on 21 Oct; 4 damaged (a loss), 6
///   returned to supplier, 3 found; stock take -2 (A) and +1 (B); 10 transferred out; 1 sold on
///   31 Oct 22:30 Nairobi; then 1 dispensed at 00:30 on 1 Nov Nairobi and 5 on 3 Nov (November).
/// - amoxicillin (T-AMX, antibiotic): 10 received on 15 Oct, all dispensed on 20 Oct.
/// - morphine (T-MOR, controlled, special): 20 received on 1 Oct, 2 dispensed on 12 Oct.
/// - ORS (T-ORS): 5 received on 1 Aug in a batch that expired on 30 Sep.
pub async fn october(app: &TestApp) -> October {
    let db = app.db();
    let (store, pcm) = store_and_drug(db).await;
    let amx = drug(db, "T-AMX", "Amoxicillin", "antibiotic", false, 500).await;
    let mor = drug(db, "T-MOR", "Morphine", "special", true, 10_000).await;
    let ors = drug(db, "T-ORS", "ORS", "common", false, 0).await;
    let now = hms_core::clock::now_rfc3339();
    let mut tx = db.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO store_levels (store_id, drug_id, reorder_level, maximum_level, updated_at) \
         VALUES ($1, $2, 150, 200, $3)",
    )
    .bind(store)
    .bind(pcm)
    .bind(&now)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let adult = patient(db, "P-0001", "Wanjiru", "Kamau", "1990-01-01").await;
    let child = patient(db, "P-0002", "Baraka", "Otieno", "2024-05-01").await;
    let l1 = dispense(
        db,
        store,
        "prescription",
        Some(adult),
        Some("2026-10-20T07:00:00.000Z"),
        &[(pcm, 30), (amx, 4)],
    )
    .await;
    let l2 = dispense(
        db,
        store,
        "prescription",
        Some(child),
        Some("2026-10-20T08:00:00.000Z"),
        &[(amx, 6)],
    )
    .await;
    let l3 = dispense(
        db,
        store,
        "prescription",
        Some(adult),
        Some("2026-10-12T09:00:00.000Z"),
        &[(mor, 2)],
    )
    .await;
    let l4 = dispense(
        db,
        store,
        "sale",
        None,
        Some("2026-10-31T19:30:00.000Z"),
        &[(pcm, 1)],
    )
    .await;
    let l5 = dispense(
        db,
        store,
        "prescription",
        Some(adult),
        Some("2026-10-31T21:30:00.000Z"),
        &[(pcm, 1)],
    )
    .await;
    dispense(db, store, "prescription", Some(child), None, &[(pcm, 3)]).await;

    let a = batch(db, store, pcm, "A", day(2027, 2, 28), 100).await;
    let b = batch(db, store, pcm, "B", day(2028, 6, 30), 120).await;
    let x = batch(db, store, amx, "X", day(2028, 1, 31), 300).await;
    let m = batch(db, store, mor, "M", day(2027, 12, 31), 5_000).await;
    let o = batch(db, store, ors, "O", day(2026, 9, 30), 50).await;
    use Kind::*;
    post(
        db,
        o,
        5,
        Receipt,
        "receipt_line:1",
        "2026-08-01T07:00:00.000Z",
    )
    .await;
    post(
        db,
        a,
        100,
        Receipt,
        "receipt_line:2",
        "2026-09-20T07:00:00.000Z",
    )
    .await;
    post(
        db,
        a,
        -10,
        Dispense,
        "dispense_line:0",
        "2026-09-25T07:00:00.000Z",
    )
    .await;
    post(
        db,
        m,
        20,
        Receipt,
        "receipt_line:3",
        "2026-10-01T07:00:00.000Z",
    )
    .await;
    post(
        db,
        b,
        50,
        Receipt,
        "receipt_line:4",
        "2026-10-02T07:00:00.000Z",
    )
    .await;
    post(
        db,
        b,
        20,
        TransferIn,
        "transfer_line:1",
        "2026-10-03T07:00:00.000Z",
    )
    .await;
    let damaged = adjustment(db, store, pcm, a, -4, "damaged", "2026-10-07T07:00:00.000Z").await;
    post(db, a, -4, Adjustment, &damaged, "2026-10-07T07:00:00.000Z").await;
    let back = adjustment(
        db,
        store,
        pcm,
        b,
        -6,
        "returned_to_supplier",
        "2026-10-08T07:00:00.000Z",
    )
    .await;
    post(db, b, -6, Adjustment, &back, "2026-10-08T07:00:00.000Z").await;
    let found = adjustment(db, store, pcm, b, 3, "found", "2026-10-09T07:00:00.000Z").await;
    post(db, b, 3, Adjustment, &found, "2026-10-09T07:00:00.000Z").await;
    post(
        db,
        a,
        -2,
        StockTake,
        "stock_take_line:1",
        "2026-10-10T07:00:00.000Z",
    )
    .await;
    post(
        db,
        b,
        1,
        StockTake,
        "stock_take_line:2",
        "2026-10-10T07:00:00.000Z",
    )
    .await;
    post(
        db,
        b,
        -10,
        TransferOut,
        "transfer_line:2",
        "2026-10-11T07:00:00.000Z",
    )
    .await;
    post(
        db,
        m,
        -2,
        Dispense,
        &format!("dispense_line:{}", l3[0]),
        "2026-10-12T09:00:00.000Z",
    )
    .await;
    post(
        db,
        x,
        10,
        Receipt,
        "receipt_line:5",
        "2026-10-15T07:00:00.000Z",
    )
    .await;
    post(
        db,
        a,
        -30,
        Dispense,
        &format!("dispense_line:{}", l1[0]),
        "2026-10-20T07:00:00.000Z",
    )
    .await;
    post(
        db,
        x,
        -4,
        Dispense,
        &format!("dispense_line:{}", l1[1]),
        "2026-10-20T07:00:00.000Z",
    )
    .await;
    post(
        db,
        x,
        -6,
        Dispense,
        &format!("dispense_line:{}", l2[0]),
        "2026-10-20T08:00:00.000Z",
    )
    .await;
    post(
        db,
        a,
        5,
        Return,
        &format!("dispense_line:{}", l1[0]),
        "2026-10-21T07:00:00.000Z",
    )
    .await;
    post(
        db,
        a,
        -1,
        Dispense,
        &format!("dispense_line:{}", l4[0]),
        "2026-10-31T19:30:00.000Z",
    )
    .await;
    post(
        db,
        a,
        -1,
        Dispense,
        &format!("dispense_line:{}", l5[0]),
        "2026-10-31T21:30:00.000Z",
    )
    .await;
    post(
        db,
        a,
        -5,
        Dispense,
        "dispense_line:0",
        "2026-11-03T07:00:00.000Z",
    )
    .await;
    October {
        store,
        mor,
        adult,
        child,
    }
}

/// The CSV's lines as cells (every cell is quoted, quotes inside doubled), headings first.
pub fn csv_rows(body: &str) -> Vec<Vec<String>> {
    body.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut cells = Vec::new();
            let mut cell = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' if quoted && chars.peek() == Some(&'"') => {
                        cell.push('"');
                        chars.next();
                    }
                    '"' => quoted = !quoted,
                    ',' if !quoted => cells.push(std::mem::take(&mut cell)),
                    c => cell.push(c),
                }
            }
            cells.push(cell);
            cells
        })
        .collect()
}

pub fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a Vec<String> {
    rows.iter()
        .find(|r| r.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in {rows:?}"))
}

pub async fn csv(c: &Client, path: &str) -> Vec<Vec<String>> {
    let r = c.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/csv"),
        "{path}"
    );
    csv_rows(&r.body)
}

pub async fn stock_check(app: &TestApp) -> ExitCode {
    let loaded = Loaded {
        config: app.app.config.clone(),
        sources: Default::default(),
        file: None,
        module_sources: Default::default(),
    };
    hms_web::cli::run_args(["hms", "stock", "check"], loaded).await
}
