//! The stock writer: balances move only with a ledger row, never below zero, and the ledger
//! cannot be edited or deleted even with raw SQL.

use hms_pharmacy::stock::{self, Kind, Movement, StockError};
use hms_testkit::each_backend;

use crate::fixtures::{day, receive, store_and_drug};

each_backend! {
    async fn moves_write_the_ledger_never_go_below_zero_and_the_ledger_refuses_edits(app) {
        let db = app.db();
        let (store, drug) = store_and_drug(db).await;
        let now = hms_core::clock::now_rfc3339();
        let today = day(2026, 12, 7);
        let early = receive(db, store, drug, "A1", day(2027, 1, 31), 7).await;
        let late = receive(db, store, drug, "B2", day(2028, 6, 30), 3).await;

        // First expiry first: 8 units take all 7 of A1, then 1 of B2.
        let mut tx = db.begin().await.unwrap();
        let (takes, short) = stock::take_fefo(&mut tx, store, drug, 8, Kind::Dispense,
            "dispense_line:0", None, &now, today).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(short, 0);
        assert_eq!(takes.iter().map(|t| (t.batch, t.quantity)).collect::<Vec<_>>(),
            vec![(early, 7), (late, 1)]);

        // Asking for more than is left takes what there is and says what is missing.
        let mut tx = db.begin().await.unwrap();
        let m = Movement { batch: late, quantity: -5, kind: Kind::Dispense, reference: "x",
            reason: None, user: None, at: &now, usable_on: Some(today) };
        match stock::post(&mut tx, &m).await {
            Err(StockError::Short { available, .. }) => assert_eq!(available, 2),
            other => panic!("expected a shortfall, got {other:?}"),
        }
        tx.rollback().await.unwrap();

        let (checked, differences) = stock::check(db).await.unwrap();
        assert_eq!((checked, differences), (2, vec![]));

        for sql in ["UPDATE stock_ledger SET quantity = 100", "DELETE FROM stock_ledger"] {
            let mut tx = db.begin().await.unwrap();
            let refused = sqlx::query(sql).execute(&mut *tx).await;
            assert!(refused.is_err(), "{sql} must be refused");
        }
        // A balance changed behind the writer's back is found.
        let mut tx = db.begin().await.unwrap();
        sqlx::query("UPDATE stock_batches SET qty_on_hand = 50 WHERE id = $1")
            .bind(late).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let (_, differences) = stock::check(db).await.unwrap();
        assert_eq!(differences.len(), 1);
        assert_eq!((differences[0].batch, differences[0].balance, differences[0].ledger), (late, 50, 2));
    }
}
