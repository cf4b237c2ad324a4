//! Random receipts, dispenses, adjustments, transfers and stock takes (a seeded RNG, so a
//! failure replays): after every step each balance equals its ledger, none is negative, and
//! each store's stock of each drug is what a plain model of the steps says.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sqlx::Row;

use hms_pharmacy::stock::{self, Kind};
use hms_testkit::{each_backend, TestApp};

use crate::fixtures::{day, store_and_drug};
use crate::movements::{books_balance, id_of, main_store, on_hand, pharmacist, supplier, token};

const STEPS: usize = 60;
const BATCHES: [(&str, &str); 3] = [("P1", "01/2028"), ("P2", "06/2029"), ("P3", "12/2030")];

async fn second_drug(app: &TestApp) -> i64 {
    let now = hms_core::clock::now_rfc3339();
    sqlx::query_scalar(
        "INSERT INTO drugs (code, generic_name, strength, form, unit, pack_size, created_at, \
         updated_at) VALUES ('T-AMX', 'Amoxicillin', '250 mg', 'capsule', 'capsule', 10, $1, $1) \
         RETURNING id",
    )
    .bind(&now)
    .fetch_one(app.db().read())
    .await
    .unwrap()
}

/// The batches holding stock: (id, store, qty).
async fn batches(app: &TestApp) -> Vec<(i64, i64, i64)> {
    sqlx::query("SELECT id, store_id, qty_on_hand FROM stock_batches ORDER BY id")
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

each_backend! {
    async fn random_movements_keep_every_balance_equal_to_its_ledger(app) {
        let db = app.db();
        let seed: u64 = std::env::var("HMS_PROPERTY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
        let mut rng = StdRng::seed_from_u64(seed);
        let (disp, pcm) = store_and_drug(db).await;
        let main = main_store(&app).await;
        let amx = second_drug(&app).await;
        let sup = supplier(&app).await.to_string();
        let stores = [main, disp];
        let drugs = [pcm, amx];
        let c = pharmacist(&app, "pharm").await;
        app.add_user("boss", &["admin"]).await;
        let boss = app.login("boss").await;
        boss.get("/").await;
        let mut model: HashMap<(i64, i64), i64> = HashMap::new();
        let reasons = ["damaged", "expired", "lost", "found", "returned_to_supplier"];

        for step in 0..STEPS {
            let store = stores[rng.random_range(0..2)];
            let drug = drugs[rng.random_range(0..2)];
            let have = *model.get(&(store, drug)).unwrap_or(&0);
            let what = rng.random_range(0..10);
            match what {
                0..=2 => {
                    let (batch, expiry) = BATCHES[rng.random_range(0..3)];
                    let q = rng.random_range(1..=60).to_string();
                    let tok = token();
                    let (s, d) = (store.to_string(), drug.to_string());
                    let r = c.post_form("/pharmacy/receipts", &crate::movements::receipt_fields(
                        &tok, &s, &sup, &d, batch, expiry, &q)).await;
                    assert_eq!(r.status, 303, "step {step}: receipt: {}", r.body);
                    *model.entry((store, drug)).or_default() += q.parse::<i64>().unwrap();
                }
                3..=4 => {
                    let wanted = rng.random_range(1..=40);
                    let now = hms_core::clock::now_rfc3339();
                    let mut tx = db.begin().await.unwrap();
                    let (takes, missing) = stock::take_fefo(&mut tx, store, drug, wanted, Kind::Dispense,
                        "dispense_line:0", None, &now, day(2026, 12, 7)).await.unwrap();
                    tx.commit().await.unwrap();
                    let taken: i64 = takes.iter().map(|t| t.quantity).sum();
                    assert_eq!(taken, wanted.min(have), "step {step}: dispense");
                    assert_eq!(missing, wanted - taken);
                    *model.entry((store, drug)).or_default() -= taken;
                }
                5..=6 => {
                    let all = batches(&app).await;
                    if all.is_empty() { continue; }
                    let (batch, bstore, qty) = all[rng.random_range(0..all.len())];
                    let bdrug: i64 = sqlx::query_scalar("SELECT drug_id FROM stock_batches WHERE id = $1")
                        .bind(batch).fetch_one(db.read()).await.unwrap();
                    let reason = reasons[rng.random_range(0..reasons.len())];
                    let q = rng.random_range(1..=30);
                    let tok = token();
                    let r = c.post_form("/pharmacy/adjustments", &[("token", tok.as_str()),
                        ("batch", &batch.to_string()), ("quantity", &q.to_string()),
                        ("reason", reason), ("note", "")]).await;
                    if reason == "found" {
                        assert_eq!(r.status, 303, "step {step}: found");
                        *model.entry((bstore, bdrug)).or_default() += q;
                    } else if q <= qty {
                        assert_eq!(r.status, 303, "step {step}: {reason} {q} of {qty}");
                        *model.entry((bstore, bdrug)).or_default() -= q;
                    } else {
                        assert_eq!(r.status, 422, "step {step}: {reason} {q} of {qty}");
                    }
                }
                7..=8 => {
                    let to = if store == main { disp } else { main };
                    let q = rng.random_range(1..=50);
                    let tok = token();
                    let r = c.post_form("/pharmacy/transfers", &[("token", tok.as_str()),
                        ("mode", "direct"), ("from", &store.to_string()), ("to", &to.to_string()),
                        ("drug", &drug.to_string()), ("quantity", &q.to_string())]).await;
                    if q <= have {
                        assert_eq!(r.status, 303, "step {step}: transfer {q} of {have}: {}", r.body);
                        *model.entry((store, drug)).or_default() -= q;
                        *model.entry((to, drug)).or_default() += q;
                    } else {
                        assert_eq!(r.status, 422, "step {step}: transfer {q} of {have}");
                    }
                }
                _ => {
                    let r = c.post_form("/pharmacy/stocktakes", &[("store", &store.to_string())]).await;
                    if r.status == 422 { continue; }
                    assert_eq!(r.status, 303, "step {step}: start: {}", r.body);
                    let id = id_of(r.location());
                    let lines: Vec<(i64, i64, i64)> = sqlx::query(
                        "SELECT l.id, l.drug_id, b.qty_on_hand FROM stock_take_lines l \
                         JOIN stock_batches b ON b.id = l.batch_id WHERE l.stock_take_id = $1")
                        .bind(id).fetch_all(db.read()).await.unwrap()
                        .iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
                    let mut fields = Vec::new();
                    for (line, _, qty) in &lines {
                        let counted = (qty + rng.random_range(-5..=5)).max(0);
                        fields.push((format!("count_{line}"), counted.to_string()));
                    }
                    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    assert_eq!(c.post_form(&format!("/pharmacy/stocktakes/{id}/count"), &f).await.status, 303);
                    assert_eq!(c.post_form(&format!("/pharmacy/stocktakes/{id}/submit"), &[]).await.status, 303);
                    let r = boss.post_form(&format!("/pharmacy/stocktakes/{id}/approve"), &[]).await;
                    assert_eq!(r.status, 303, "step {step}: approve: {}", r.body);
                    for d in drugs {
                        let total: i64 = lines.iter().zip(&fields)
                            .filter(|((_, ld, _), _)| *ld == d)
                            .map(|(_, (_, v))| v.parse::<i64>().unwrap()).sum();
                        if lines.iter().any(|(_, ld, _)| *ld == d) {
                            model.insert((store, d), total);
                        }
                    }
                }
            }
            books_balance(&app).await;
            for s in stores {
                for d in drugs {
                    assert_eq!(on_hand(&app, s, d).await, *model.get(&(s, d)).unwrap_or(&0),
                        "step {step} (op {what}): store {s} drug {d}");
                }
            }
        }
        assert!(app.scalar("SELECT COUNT(*) FROM stock_ledger").await > 10, "the walk moved stock");
    }
}
