//! Movements racing dispenses of the same batches on both databases: a transfer, and a stock
//! take's approval, while dispenses (`stock::take_fefo` in their own transactions, as the
//! dispensing screen runs them) take from the same batch. Nothing oversells, no balance goes
//! below zero, every unit is accounted for and the ledger equals the balances.

use std::sync::Arc;

use hms_core::db::Db;
use hms_pharmacy::stock::{self, Kind};
use hms_testkit::each_backend;

use crate::fixtures::{day, receive, store_and_drug};
use crate::movements::{books_balance, id_of, main_store, on_hand, pharmacist, token};

/// `n` dispenses of `each` units at once from `store`; the units they took in all.
fn dispenses(
    db: &Db,
    store: i64,
    drug: i64,
    n: usize,
    each: i64,
) -> Vec<tokio::task::JoinHandle<i64>> {
    (0..n)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let now = hms_core::clock::now_rfc3339();
                let reference = format!("dispense_line:{i}");
                let mut tx = db.begin().await.unwrap();
                let (takes, _) = stock::take_fefo(
                    &mut tx,
                    store,
                    drug,
                    each,
                    Kind::Dispense,
                    &reference,
                    None,
                    &now,
                    day(2026, 12, 7),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                takes.iter().map(|t| t.quantity).sum::<i64>()
            })
        })
        .collect()
}

each_backend! {
    async fn transfers_racing_dispenses_of_the_same_batches_never_oversell(app) {
        let db = app.db();
        let (disp, drug) = store_and_drug(db).await;
        let main = main_store(&app).await;
        receive(db, main, drug, "R-EARLY", day(2028, 1, 31), 60).await;
        receive(db, main, drug, "R-LATE", day(2029, 1, 31), 60).await;
        let c = Arc::new(pharmacist(&app, "pharm").await);
        let (m, ds, d) = (main.to_string(), disp.to_string(), drug.to_string());
        // 12 dispenses of 5 and 3 transfers of 25 ask 135 of the 120 units.
        let mut moves = Vec::new();
        for _ in 0..3 {
            let c = c.clone();
            let fields: Vec<(String, String)> = vec![
                ("token".into(), token()), ("mode".into(), "direct".into()), ("from".into(), m.clone()),
                ("to".into(), ds.clone()), ("drug".into(), d.clone()), ("quantity".into(), "25".into()),
            ];
            moves.push(tokio::spawn(async move {
                let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                c.post_form("/pharmacy/transfers", &f).await.status
            }));
        }
        let taking = dispenses(db, main, drug, 12, 5);
        let mut dispensed = 0;
        for t in taking {
            dispensed += t.await.unwrap();
        }
        let mut transferred = 0;
        for t in moves {
            match t.await.unwrap() {
                303 => transferred += 25,
                422 => {}
                other => panic!("a transfer answered {other}"),
            }
        }
        assert!(transferred > 0 || dispensed == 60);
        assert_eq!(on_hand(&app, disp, drug).await, transferred, "what left arrived");
        assert_eq!(on_hand(&app, main, drug).await + transferred + dispensed, 120, "every unit accounted for");
        books_balance(&app).await;
    }

    async fn a_stock_take_approved_while_dispensing_goes_on_keeps_every_unit(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        let batch = receive(db, store, drug, "S-1", day(2029, 6, 30), 100).await;
        app.add_user("counter", &["pharmacist"]).await;
        let counter = app.login("counter").await;
        counter.get("/").await;
        app.add_user("boss", &["admin"]).await;
        let boss = Arc::new(app.login("boss").await);
        boss.get("/").await;
        let r = counter.post_form("/pharmacy/stocktakes", &[("store", &store.to_string())]).await;
        let id = id_of(r.location());
        let line: i64 = sqlx::query_scalar("SELECT id FROM stock_take_lines WHERE stock_take_id = $1")
            .bind(id).fetch_one(db.read()).await.unwrap();
        let field = format!("count_{line}");
        // Ten units are missing from the shelf.
        assert_eq!(counter.post_form(&format!("/pharmacy/stocktakes/{id}/count"), &[(field.as_str(), "90")]).await.status, 303);
        assert_eq!(counter.post_form(&format!("/pharmacy/stocktakes/{id}/submit"), &[]).await.status, 303);
        let approving = {
            let boss = boss.clone();
            tokio::spawn(async move {
                boss.post_form(&format!("/pharmacy/stocktakes/{id}/approve"), &[]).await.status
            })
        };
        let taking = dispenses(db, store, drug, 10, 3);
        let mut dispensed = 0;
        for t in taking {
            dispensed += t.await.unwrap();
        }
        assert_eq!(approving.await.unwrap(), 303);
        assert_eq!(dispensed, 30);
        let left: i64 = sqlx::query_scalar("SELECT qty_on_hand FROM stock_batches WHERE id = $1")
            .bind(batch).fetch_one(db.read()).await.unwrap();
        assert_eq!(left, 90 - 30, "the count's variance and every dispense both stand");
        books_balance(&app).await;
    }
}
