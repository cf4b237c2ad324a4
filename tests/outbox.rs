//! The email outbox against a real SMTP server on loopback: delivery with the right headers,
//! an outage (messages wait, attempts and errors are recorded, delivery once the server is
//! back), two senders on one database (each message sent once), retry from the admin screen
//! and the "send test email" button.

use std::collections::HashMap;
use std::time::Duration;

use hms_core::db::Db;
use hms_core::outbox::{self, Sender, SenderOptions};
use hms_testkit::smtp::SmtpServer;
use hms_testkit::{each_backend, TestApp};
use sqlx::Row;

const FROM: &str = "records@mwangaza.co.ke";

fn fast() -> SenderOptions {
    SenderOptions {
        poll_every: Duration::from_millis(20),
        smtp_timeout: Duration::from_secs(5),
        ..SenderOptions::with_backoff(Duration::from_millis(50))
    }
}

async fn set_from(app: &TestApp) {
    let mut tx = app.db().begin().await.unwrap();
    hms_core::settings::put(&mut tx, "mail_from", FROM)
        .await
        .unwrap();
    hms_core::settings::put(&mut tx, "facility_name", "Mwangaza Health Centre")
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn enqueue(db: &Db, to: &str, subject: &str, body: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = outbox::enqueue(&mut tx, to, subject, body).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn status(db: &Db, id: i64) -> (String, i64, Option<String>) {
    outbox::status(db, id)
        .await
        .unwrap()
        .expect("message exists")
}

/// Waits until `check` holds for the message (up to 20 s).
async fn wait_status(
    db: &Db,
    id: i64,
    check: impl Fn(&(String, i64, Option<String>)) -> bool,
) -> (String, i64, Option<String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = status(db, id).await;
        if check(&s) || tokio::time::Instant::now() >= deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

each_backend! {
    async fn a_queued_message_arrives_with_its_headers_and_body(app) {
        let smtp = SmtpServer::start().await;
        set_from(&app).await;
        let id = enqueue(app.db(), "wanjiru@example.co.ke", "Clinic hours this week", "Hello Wanjiru,\nThe clinic opens at 8.\n").await;
        assert_eq!(status(app.db(), id).await.0, "queued");

        let sender = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap();
        assert_eq!(sender.run_once().await.unwrap(), 1);
        let mails = smtp.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(mails.len(), 1);
        let m = &mails[0];
        assert_eq!(m.mail_from, FROM);
        assert_eq!(m.rcpt_to, vec!["wanjiru@example.co.ke".to_string()]);
        assert!(m.header("To").unwrap().contains("wanjiru@example.co.ke"), "{}", m.data);
        let from = m.header("From").unwrap();
        assert!(from.contains(FROM) && from.contains("Mwangaza Health Centre"), "{from}");
        assert_eq!(m.header("Subject").as_deref(), Some("Clinic hours this week"));
        assert!(m.header("Content-Type").unwrap().starts_with("text/plain"));
        assert!(m.body().contains("Hello Wanjiru,") && m.body().contains("The clinic opens at 8."), "{}", m.body());

        let (st, attempts, error) = status(app.db(), id).await;
        assert_eq!((st.as_str(), attempts, error), ("sent", 1, None));
        assert_eq!(sender.run_once().await.unwrap(), 0, "nothing is sent twice");
        assert_eq!(smtp.mails().len(), 1);
    }

    async fn without_a_from_address_messages_wait(app) {
        let smtp = SmtpServer::start().await;
        let id = enqueue(app.db(), "wanjiru@example.co.ke", "Waiting", "body").await;
        let sender = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap();
        assert_eq!(sender.run_once().await.unwrap(), 0);
        assert_eq!(status(app.db(), id).await, ("queued".into(), 0, None));
        set_from(&app).await;
        assert_eq!(sender.run_once().await.unwrap(), 1);
        assert_eq!(smtp.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    }

    async fn while_the_server_is_down_messages_wait_and_arrive_when_it_is_back(app) {
        let mut smtp = SmtpServer::start().await;
        set_from(&app).await;
        smtp.stop();
        let id = enqueue(app.db(), "otieno@example.co.ke", "Lab results ready", "Your results are ready.").await;
        let task = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap().spawn();

        let (st, attempts, error) = wait_status(app.db(), id, |s| s.1 >= 2 && s.0 == "queued").await;
        assert_eq!(st, "queued", "kept while the server is down");
        assert!(attempts >= 2, "attempts counted: {attempts}");
        assert!(error.as_deref().is_some_and(|e| !e.is_empty()), "the error is recorded");
        let next: i64 = sqlx::query("SELECT next_attempt_at FROM outbox WHERE id = $1")
            .bind(id).fetch_one(app.db().read()).await.unwrap().get(0);
        assert!(next > hms_core::clock::now_ms() - 5_000, "a later attempt is planned");
        assert!(smtp.mails().is_empty());

        smtp.restart().await;
        let (st, _, error) = wait_status(app.db(), id, |s| s.0 == "sent").await;
        assert_eq!(st, "sent");
        assert_eq!(error, None);
        let mails = smtp.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].header("Subject").as_deref(), Some("Lab results ready"));
        task.stop(Duration::from_secs(5)).await;
        assert_eq!(smtp.mails().len(), 1, "delivered once");
    }

    async fn two_senders_on_one_database_never_send_a_message_twice(app) {
        let smtp = SmtpServer::start().await;
        set_from(&app).await;
        const N: usize = 30;
        let mut ids = Vec::new();
        for i in 0..N {
            ids.push(enqueue(app.db(), &format!("patient{i}@example.co.ke"), &format!("Reminder {i}"), "See you tomorrow.").await);
        }
        // Two app servers: each sender has its own connections to the same database.
        let other = Db::connect(&app.app.config.effective_database_url()).await.unwrap();
        let a = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap();
        let b = Sender::new(other.clone(), &smtp.url(), fast()).unwrap();
        assert_ne!(a.id(), b.id());
        let (ta, tb) = (a.spawn(), b.spawn());
        let mails = smtp.wait_for(N, Duration::from_secs(30)).await;
        // Give a duplicate, if any, the time to arrive.
        tokio::time::sleep(Duration::from_millis(300)).await;
        ta.stop(Duration::from_secs(5)).await;
        tb.stop(Duration::from_secs(5)).await;
        let mails = if mails.len() >= N { smtp.mails() } else { mails };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for m in &mails {
            *seen.entry(m.header("Subject").unwrap()).or_default() += 1;
        }
        assert_eq!(mails.len(), N, "each message exactly once: {seen:?}");
        assert!(seen.values().all(|n| *n == 1), "{seen:?}");
        for id in ids {
            let (st, attempts, _) = status(app.db(), id).await;
            assert_eq!((st.as_str(), attempts), ("sent", 1));
        }
        other.close().await;
    }

    async fn failed_messages_are_listed_and_can_be_retried(app) {
        let mut smtp = SmtpServer::start().await;
        set_from(&app).await;
        smtp.stop();
        let id = enqueue(app.db(), "kamau@example.co.ke", "Invoice 42", "Your invoice.").await;
        let sender = Sender::new(app.db().clone(), &smtp.url(), SenderOptions { max_attempts: 2, ..fast() }).unwrap();
        sender.run_once().await.unwrap();
        assert_eq!(status(app.db(), id).await.0, "queued");
        tokio::time::sleep(Duration::from_millis(80)).await;
        sender.run_once().await.unwrap();
        let (st, attempts, error) = status(app.db(), id).await;
        assert_eq!((st.as_str(), attempts), ("failed", 2), "failed after max attempts");
        assert!(error.is_some());

        let admin = app.setup_admin().await;
        let page = admin.get("/admin/outbox").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("kamau@example.co.ke") && page.body.contains("Invoice 42"));
        assert!(page.body.contains("Retry now"));
        let r = admin.post_form(&format!("/admin/outbox/{id}/retry"), &[]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(status(app.db(), id).await.0, "queued");
        assert_eq!(app.audit_count("outbox.retry").await, 1);
        assert_eq!(admin.post_form(&format!("/admin/outbox/{id}/retry"), &[]).await.status, 404, "only failed ones");

        smtp.restart().await;
        assert_eq!(sender.run_once().await.unwrap(), 1);
        assert_eq!(status(app.db(), id).await.0, "sent");
        assert_eq!(smtp.wait_for(1, Duration::from_secs(5)).await.len(), 1);
        assert!(!admin.get("/admin/outbox").await.body.contains("Invoice 42"), "sent ones are not listed");

        app.add_user("nurse.akinyi", &["nurse"]).await;
        let nurse = app.login("nurse.akinyi").await;
        assert_eq!(nurse.get("/admin/outbox").await.status, 403);
    }

    async fn the_settings_screen_sends_a_test_email(app) {
        let smtp = SmtpServer::start().await;
        set_from(&app).await;
        let admin = app.setup_admin().await;
        admin.get("/admin/settings").await;
        // The administrator has no email address of their own yet.
        let r = admin.post_form("/admin/settings/test-email", &[("test_to", "")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("no email address"), "{}", r.body);
        let r = admin.post_form("/admin/settings/test-email", &[("test_to", "not-an-address")]).await;
        assert_eq!(r.status, 422);
        let r = admin.post_form("/admin/settings/test-email", &[("test_to", "it@mwangaza.co.ke")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert!(admin.get("/admin/settings").await.body.contains("Test email queued for it@mwangaza.co.ke"));
        assert_eq!(app.audit_count("outbox.test_email").await, 1);

        let sender = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap();
        assert_eq!(sender.run_once().await.unwrap(), 1);
        let mails = smtp.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].rcpt_to, vec!["it@mwangaza.co.ke".to_string()]);
        assert!(mails[0].header("Subject").unwrap().contains("Mwangaza Health Centre"));
        assert!(mails[0].body().contains("Amina Wanjiku"));
    }
}
