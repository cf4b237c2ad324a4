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

async fn record_as(app: &TestApp, user_id: Option<i64>, event: Event) {
    let mut tx = app.db().begin().await.unwrap();
    let actor = Actor {
        user_id,
        client_addr: Some("10.1.1.1".into()),
        request_id: None,
    };
    audit::record(&mut tx, &actor, event).await.unwrap();
    tx.commit().await.unwrap();
}

each_backend! {
    async fn the_viewer_filters_pages_and_is_for_those_allowed(app) {
        let admin = app.setup_admin().await;
        let nurse = app.add_user("nurse.wambui", &["nurse"]).await;
        for n in 0..60 {
            record_as(&app, Some(nurse), Event::new("patient.view", "patient", Some(n % 3)).patient(n % 3)).await;
        }
        record_as(&app, Some(nurse), Event::new("patient.update", "patient", Some(7)).patient(7)).await;

        let page = admin.get("/audit?user=nurse.wambui&action=patient.").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("the reads of the last second or so may be missing"), "the read window is said plainly");
        assert_eq!(page.body.matches("<tr>").count(), 51, "a page of 50 rows plus the header");
        assert!(page.body.contains("Older entries"));
        let older = page.body.split("before=").nth(1).unwrap().split('"').next().unwrap().to_string();
        let second = admin.get(&format!("/audit?user=nurse.wambui&action=patient.&before={older}")).await;
        assert_eq!(second.body.matches("<tr>").count(), 12, "the remaining 11 rows plus the header");

        // The filter takes a patient number (the record's id is looked up from it).
        let kagendo = hms_testkit::domain::register_quick(&admin, "Kagendo", "Koome", "0748 300 111").await;
        let number = hms_testkit::domain::patient_number(&admin, kagendo).await;
        record_as(&app, Some(nurse), Event::new("patient.update", "patient", Some(kagendo)).patient(kagendo)).await;
        let one = admin.get(&format!("/audit?patient={number}&action=patient.update")).await;
        assert_eq!(one.body.matches("<tr>").count(), 2, "her one change, and the header: {}", one.body);
        assert!(one.body.contains(&format!("href=\"/audit?patient={number}\"")));
        let bad = admin.get("/audit?patient=x&from=25/11/2026").await;
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("looks like P-26-00042") && bad.body.contains("value=\"25/11/2026\""), "what was typed stays");
        let today = hms_core::clock::to_local(chrono::Utc::now()).format("%Y-%m-%d").to_string();
        let dated = admin.get(&format!("/audit?action=patient.update&from={today}&to={today}")).await;
        assert!(dated.body.contains("patient.update"));
        let past = admin.get("/audit?action=patient.update&from=2020-01-01&to=2020-01-02").await;
        assert!(past.body.contains("No entries match"));

        let n = app.login("nurse.wambui").await;
        assert_eq!(n.get("/audit").await.status, 403);
        assert_eq!(n.get("/audit/export.csv").await.status, 403);
        assert_eq!(n.get("/audit/patients/7").await.status, 403);
    }

    async fn the_export_is_a_safe_spreadsheet_and_is_itself_recorded(app) {
        let admin = app.setup_admin().await;
        record_as(&app, None, Event {
            action: "test.formula",
            entity: "test",
            entity_id: Some("=HYPERLINK(\"http://evil\",\"x\")".into()),
            patient_id: None,
            detail: json!({"note": "+254 700 000 000", "q": "say \"hi\""}),
        }).await;
        let csv = admin.get("/audit/export.csv?action=test.formula").await;
        assert_eq!(csv.status, 200);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        assert!(csv.header("content-disposition").unwrap().contains("attachment"));
        let text = csv.body.trim_start_matches('\u{feff}');
        let mut lines = text.lines();
        assert!(lines.next().unwrap().starts_with("id,time_utc"));
        let row = lines.next().unwrap();
        assert!(row.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""), "{row}");
        assert!(lines.next().is_none(), "only the filtered row");
        assert_eq!(app.audit_count("audit.export").await, 1);
    }
}

/// Makes the database refuse read-audit rows of `action` (a trigger), as a full disk or a
/// broken database would refuse them, until [`accept_reads`].
async fn refuse_reads(app: &TestApp) {
    let statements: &[&'static str] = match app.db().backend {
        DbBackend::Sqlite => &["CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log \
             WHEN NEW.action = 'test.read' BEGIN SELECT RAISE(ABORT, 'no room'); END"],
        DbBackend::Postgres => &[
            "CREATE FUNCTION refuse_reads() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'no room'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_reads BEFORE INSERT ON audit_log FOR EACH ROW \
             WHEN (NEW.action = 'test.read') EXECUTE FUNCTION refuse_reads()",
        ],
    };
    let mut tx = app.db().begin().await.unwrap();
    for sql in statements {
        sqlx::query(*sql).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn accept_reads(app: &TestApp) {
    let sql = match app.db().backend {
        DbBackend::Sqlite => "DROP TRIGGER refuse_reads",
        DbBackend::Postgres => "DROP TRIGGER refuse_reads ON audit_log",
    };
    let mut tx = app.db().begin().await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

fn spill_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(&app.data_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".spill"))
        .collect()
}

each_backend! {
    async fn read_rows_the_database_refuses_are_kept_on_disk_and_added_at_the_next_start(app) {
        write(&app, 1).await;
        refuse_reads(&app).await;
        let reader = Actor { user_id: Some(7), client_addr: Some("10.0.0.5".into()), request_id: Some("r1".into()) };
        for patient in [11, 12, 13] {
            app.app
                .audit_reads
                .read(reader.clone(), Event::new("test.read", "patient", Some(patient)).patient(patient))
                .await;
        }
        // Five attempts (about a second), then the spill file.
        app.app.audit_reads.flush().await;
        assert_eq!(app.app.audit_reads.spilled(), 3);
        assert_eq!(app.audit_count("test.read").await, 0);
        let files = spill_files(&app);
        assert_eq!(files.len(), 1, "{files:?}");
        let kept = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(kept.lines().count(), 3, "{kept}");
        // Changes go on being recorded meanwhile.
        write(&app, 2).await;

        // The database is fixed; the server starts again on the same database and data folder.
        accept_reads(&app).await;
        let restarted = hms_web::start_with_db(app.app.config.clone(), app.db().clone())
            .await
            .expect("restarts");
        assert!(spill_files(&app).is_empty(), "the spill file is gone once its rows are in");
        let rows: Vec<(Option<i64>, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT patient_id, user_id, client_addr FROM audit_log WHERE action = 'test.read' ORDER BY id",
        )
        .fetch_all(app.db().read())
        .await
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [Some(11), Some(12), Some(13)]);
        assert!(rows.iter().all(|r| r.1 == Some(7) && r.2.as_deref() == Some("10.0.0.5")));
        assert!(matches!(verdict(&app, &[]).await, Verdict::Intact { .. }));

        // Starting again adds nothing twice.
        drop(restarted);
        hms_web::start_with_db(app.app.config.clone(), app.db().clone()).await.unwrap();
        assert_eq!(app.audit_count("test.read").await, 3);
    }

    async fn the_daily_anchor_is_queued_once_a_day_and_its_hash_is_checked(app) {
        use chrono::{DateTime, Utc};
        for n in 1..=3 {
            write(&app, n).await;
        }
        let (id, hash) = audit::head(app.db()).await.unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let to = "auditor@example.org";
        assert!(audit::queue_anchor(app.db(), to, at("2026-11-25T06:00:00+03:00")).await.unwrap());
        assert!(!audit::queue_anchor(app.db(), to, at("2026-11-25T07:00:00+03:00")).await.unwrap());
        assert!(!audit::queue_anchor(app.db(), to, at("2026-11-25T23:59:00+03:00")).await.unwrap());
        let mails: Vec<(String, String, String)> =
            sqlx::query_as("SELECT to_address, subject, body_text FROM outbox ORDER BY id")
                .fetch_all(app.db().read())
                .await
                .unwrap();
        assert_eq!(mails.len(), 1, "once a day");
        assert_eq!(mails[0].0, to);
        assert!(mails[0].1.contains("2026-11-25"), "{}", mails[0].1);
        assert!(mails[0].2.contains(&format!("--head {id}:{hash}")), "{}", mails[0].2);
        assert_eq!(app.audit_count("audit.anchor").await, 1);

        assert!(audit::queue_anchor(app.db(), to, at("2026-11-26T00:01:00+03:00")).await.unwrap());
        let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(app.db().read())
            .await
            .unwrap();
        assert_eq!(queued, 2, "the next day, another");

        // The mailed hash is on the chain; a hash that is not fails.
        let anchored = audit::verify_with(app.db(), &[], std::slice::from_ref(&hash)).await.unwrap();
        assert!(matches!(anchored, Verdict::Intact { .. }), "{anchored:?}");
        let other = audit::verify_with(app.db(), &[], &["ab".repeat(32)]).await.unwrap();
        assert!(matches!(other, Verdict::Broken { .. }), "{other:?}");
    }

    async fn a_head_file_that_cannot_be_written_is_shown_on_the_backups_card(app) {
        let admin = app.setup_admin().await;
        write(&app, 1).await;
        app.app.audit_head.check(app.db(), &app.data_dir).await;
        assert_eq!(app.app.audit_head.problem(), None);
        let card = admin.get_htmx("/admin/cards/backup").await;
        assert!(!card.body.contains("head file"), "{}", card.body);

        // The data folder is replaced by a file: nothing can be written there.
        std::fs::remove_dir_all(&app.data_dir).unwrap();
        std::fs::write(&app.data_dir, b"not a folder").unwrap();
        write(&app, 2).await;
        app.app.audit_head.check(app.db(), &app.data_dir).await;
        let card = admin.get_htmx("/admin/cards/backup").await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("backup-alert"), "{}", card.body);
        assert!(card.body.contains("head file cannot be kept up to date"), "{}", card.body);
        assert!(card.body.contains("cannot write the audit head file"), "{}", card.body);

        std::fs::remove_file(&app.data_dir).unwrap();
        app.app.audit_head.check(app.db(), &app.data_dir).await;
        assert_eq!(app.app.audit_head.problem(), None, "recovers by itself");
        assert!(audit::read_head_file(&app.data_dir).is_some());
        let card = admin.get_htmx("/admin/cards/backup").await;
        assert!(!card.body.contains("head file cannot be kept up to date"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backups_card_names_the_newest_checked_backup_never_an_unfinished_one() {
    let backups = std::env::temp_dir().join(format!(
        "hms-card-backups-{}-{}",
        std::process::id(),
        hms_core::clock::now_ms()
    ));
    let folder = backups.clone();
    let app = TestApp::start_with(hms_testkit::Backend::Sqlite, move |c| {
        c.backup_dir = Some(folder)
    })
    .await
    .unwrap();
    let admin = app.setup_admin().await;
    let ran = hms_core::backup::daily_check(app.db(), &app.data_dir, &backups)
        .await
        .unwrap();
    assert!(
        matches!(&ran, hms_core::backup::Check::Ran(r) if r.ok),
        "{ran:?}"
    );
    // A newer copy cut short by a crash, still under its temporary name.
    std::fs::write(
        backups.join("hms-29990101-000000.db.partial"),
        b"SQLite format 3\0cut short",
    )
    .unwrap();
    let (name, _) = hms_core::backup::newest(&backups).unwrap();
    let card = admin.get_htmx("/admin/cards/backup").await;
    assert!(
        card.body
            .contains(&format!("Newest checked backup: {name}")),
        "{}",
        card.body
    );
    assert!(!card.body.contains("29990101"), "{}", card.body);
    let _ = std::fs::remove_dir_all(&backups);
}
