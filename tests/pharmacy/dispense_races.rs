//! Dispenses racing through the router at once, on SQLite and PostgreSQL: 100 dispenses of one
//! unit against 10 units give exactly 10 (stock 0, 90 clear refusals); 50 dispenses of one order
//! give one; the last 10 units in two batches (7 expiring first, 3 later) under concurrent
//! dispenses of 3 keep first expiry first. Nothing goes negative and the ledger always equals
//! the balances.

use std::sync::Arc;

use futures_util::future::join_all;
use hms_core::orders::State;
use hms_testkit::each_backend;
use sqlx::Row;

use crate::dispense::{count, counter, ledger_agrees, on_hand, order, prepare, visit_with_orders};
use crate::fixtures::{day, receive};

each_backend! {
    async fn a_hundred_dispenses_of_one_unit_against_ten_units_give_exactly_ten(app) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "H1", day(2028, 1, 31), 10).await;
        let (_, visit, ids) = visit_with_orders(&app, "R-0001", &[1; 100]).await;
        let client = Arc::new(c.pharmacist);
        let runs = ids.iter().enumerate().map(|(i, o)| {
            let client = client.clone();
            let (o, store) = (*o, c.store);
            tokio::spawn(async move {
                let token = format!("race-{i}");
                let r = prepare(&client, visit, store, &token, &[(o, "1")]).await;
                (r.status, r.body)
            })
        });
        let answers: Vec<(u16, String)> = join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
        let issued = answers.iter().filter(|(s, _)| *s == 303).count();
        let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
        assert_eq!(issued, 10, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
        assert_eq!(refused.len(), 90);
        // A clear refusal: what is left, and the offer.
        assert!(refused.iter().all(|(_, b)| b.contains("only 0 left")), "{}", refused[0].1);
        assert_eq!(on_hand(&app, c.drug).await, 0);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses WHERE state = 'issued'").await, 10);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM orders WHERE state = 'completed'").await, 10);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM charges").await, 10);
        ledger_agrees(&app).await;
    }

    async fn fifty_dispenses_of_one_order_at_once_give_one(app) {
        let c = counter(&app).await;
        receive(app.db(), c.store, c.drug, "F1", day(2028, 1, 31), 100).await;
        let (_, visit, ids) = visit_with_orders(&app, "R-0002", &[5]).await;
        let client = Arc::new(c.pharmacist);
        let runs = (0..50).map(|i| {
            let client = client.clone();
            let (o, store) = (ids[0], c.store);
            tokio::spawn(async move {
                prepare(&client, visit, store, &format!("one-{i}"), &[(o, "")]).await.status
            })
        });
        let statuses: Vec<u16> = join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| matches!(s, 303 | 409 | 422)), "{statuses:?}");
        let o = order(&app, ids[0]).await;
        assert_eq!((o.state, o.quantity_done), (State::Completed, 5));
        assert_eq!(on_hand(&app, c.drug).await, 95);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM dispenses").await, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM stock_ledger WHERE kind = 'dispense'").await, 1);
        ledger_agrees(&app).await;
    }

    async fn the_last_ten_units_in_two_batches_go_first_expiry_first_under_concurrent_dispenses(app) {
        let c = counter(&app).await;
        let early = receive(app.db(), c.store, c.drug, "EARLY", day(2027, 2, 28), 7).await;
        let late = receive(app.db(), c.store, c.drug, "LATE", day(2028, 2, 29), 3).await;
        let (_, visit, ids) = visit_with_orders(&app, "R-0003", &[3; 6]).await;
        let client = Arc::new(c.pharmacist);
        let runs = ids.iter().enumerate().map(|(i, o)| {
            let client = client.clone();
            let (o, store) = (*o, c.store);
            tokio::spawn(async move { prepare(&client, visit, store, &format!("fefo-{i}"), &[(o, "3")]).await.status })
        });
        let statuses: Vec<u16> = join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 3, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 3, "{statuses:?}");
        let held = |b: i64| {
            let db = app.db().clone();
            async move {
                sqlx::query("SELECT qty_on_hand FROM stock_batches WHERE id = $1").bind(b)
                    .fetch_one(db.read()).await.unwrap().get::<i64, _>(0)
            }
        };
        // 9 units out: all 7 of the batch expiring first, then 2 of the later one.
        assert_eq!((held(early).await, held(late).await), (0, 1));
        let negative = count(&app, "SELECT COUNT(*) FROM stock_ledger WHERE balance_after < 0").await;
        assert_eq!(negative, 0);
        ledger_agrees(&app).await;
    }
}
