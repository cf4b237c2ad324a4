//! The audit trail's hash chain: valid under concurrent writers and readers on both databases,
//! and verification catching each kind of tampering.

use hms_core::audit::{self, Actor, Event, Verdict};
use hms_core::db::Backend as DbBackend;
use hms_testkit::{each_backend, TestApp};
use serde_json::json;

async fn write(app: &TestApp, n: i64) {
    let mut tx = app.db().begin().await.unwrap();
    audit::record(
        &mut tx,
        &Actor::cli(None),
        Event::new("test.write", "test", Some(n)).detail(json!({"n": n})),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Runs raw SQL as someone with direct database access would, with the triggers out of the way.
async fn tamper(app: &TestApp, statements: &[&'static str]) {
    let db = app.db();
    let mut tx = db.begin().await.unwrap();
    match db.backend {
        DbBackend::Sqlite => {
            sqlx::query("DROP TRIGGER IF EXISTS audit_log_no_update")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("DROP TRIGGER IF EXISTS audit_log_no_delete")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        DbBackend::Postgres => {
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER USER")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
    }
    for sql in statements {
        sqlx::query(*sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn verdict(app: &TestApp, heads: &[(i64, String)]) -> Verdict {
    audit::verify(app.db(), heads).await.unwrap()
}

fn broken_at(v: &Verdict) -> i64 {
    match v {
        Verdict::Broken { row, .. } => *row,
        Verdict::Intact { .. } => panic!("tampering went unnoticed"),
    }
}

each_backend! {
    async fn the_chain_stays_valid_under_a_hundred_concurrent_writers_and_many_readers(app) {
        let before = app.count("audit_log").await;
        let mut tasks = Vec::new();
        for n in 0..100 {
            let db = app.db().clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                audit::record(&mut tx, &Actor::cli(None), Event::new("test.write", "test", Some(n))).await.unwrap();
                tx.commit().await.unwrap();
            }));
        }
        for n in 0..300 {
            let reads = app.app.audit_reads.clone();
            tasks.push(tokio::spawn(async move {
                reads.read(Actor::cli(None), Event::new("patient.view", "patient", Some(n)).patient(n)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        app.app.audit_reads.flush().await;
        assert_eq!(app.count("audit_log").await, before + 400);
        match verdict(&app, &[]).await {
            Verdict::Intact { rows, .. } => assert_eq!(rows, before + 400),
            broken => panic!("{broken:?}"),
        }
        let (last, _) = audit::head(app.db()).await.unwrap();
        assert_eq!(last, before + 400, "ids follow one another");
    }

    async fn an_edited_row_is_named(app) {
        for n in 0..5 { write(&app, n).await; }
        assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }));
        tamper(&app, &["UPDATE audit_log SET detail = '{\"n\":99}' WHERE id = 3"]).await;
        let v = verdict(&app, &[]).await;
        assert_eq!(broken_at(&v), 3, "{v:?}");
        assert!(format!("{v:?}").contains("edited"));
    }

    async fn a_deleted_row_is_named(app) {
        for n in 0..5 { write(&app, n).await; }
        tamper(&app, &["DELETE FROM audit_log WHERE id = 2"]).await;
        let v = verdict(&app, &[]).await;
        assert_eq!(broken_at(&v), 2, "{v:?}");
        assert!(format!("{v:?}").contains("missing"));
    }

    async fn reordered_rows_are_caught(app) {
        for n in 0..5 { write(&app, n).await; }
        // Swap the contents of rows 2 and 3 (their ids stay in order).
        tamper(&app, &[
            "UPDATE audit_log SET id = -2 WHERE id = 2",
            "UPDATE audit_log SET id = 2 WHERE id = 3",
            "UPDATE audit_log SET id = 3 WHERE id = -2",
        ]).await;
        assert_eq!(broken_at(&verdict(&app, &[]).await), 2);
    }

    async fn a_removed_tail_is_caught_by_the_head_kept_outside(app) {
        for n in 0..5 { write(&app, n).await; }
        let outside = audit::head(app.db()).await.unwrap();
        audit::write_head_file(&app.data_dir, &outside).unwrap();
        // Remove the last two rows and make the head table agree, as a careful tamperer would.
        tamper(&app, &["DELETE FROM audit_log WHERE id > 3"]).await;
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE audit_head SET last_id = 3, last_hash = (SELECT hash FROM audit_log WHERE id = 3)")
            .execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }), "inside the database it looks whole");
        let from_file = audit::read_head_file(&app.data_dir).unwrap();
        let v = verdict(&app, &[from_file]).await;
        assert_eq!(broken_at(&v), 4, "{v:?}");
        assert!(format!("{v:?}").contains("removed from the end"));
    }

    async fn the_triggers_refuse_updates_and_deletes(app) {
        write(&app, 1).await;
        let mut tx = app.db().begin().await.unwrap();
        assert!(sqlx::query("UPDATE audit_log SET action = 'x'").execute(&mut *tx).await.is_err());
        drop(tx);
        let mut tx = app.db().begin().await.unwrap();
        assert!(sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await.is_err());
        drop(tx);
        assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }));
    }
}
