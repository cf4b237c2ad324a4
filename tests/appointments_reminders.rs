//! Appointment reminders the day before, through the outbox to a real SMTP server on loopback:
//! only patients with an email address who agreed to be contacted get one, a cancelled booking
//! gets none, and each reminder arrives once however often the job runs, on however many app
//! servers, from the server's background task or from `hms reminders run`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Utc};
use hms_appointments::reminders::{queue_reminders, Facility};
use hms_core::audit::Actor;
use hms_core::config::Loaded;
use hms_core::db::Db;
use hms_core::outbox::{self, Sender, SenderOptions};
use hms_testkit::domain::{add_clinic, add_hours};
use hms_testkit::smtp::{Mail, SmtpServer};
use hms_testkit::{each_backend, Backend, Client, TestApp};
use sqlx::Row;

const FROM: &str = "records@mwangaza.co.ke";
const FACILITY: &str = "Mwangaza Health Centre";

fn fast() -> SenderOptions {
    SenderOptions {
        poll_every: Duration::from_millis(20),
        smtp_timeout: Duration::from_secs(5),
        ..SenderOptions::with_backoff(Duration::from_millis(50))
    }
}

fn today() -> NaiveDate {
    hms_core::clock::to_local(Utc::now()).date_naive()
}

fn tomorrow() -> NaiveDate {
    today() + chrono::Duration::days(1)
}

fn text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn id_from(location: Option<&str>) -> i64 {
    location
        .expect("a redirect")
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn set_mail_from(app: &TestApp) {
    let mut tx = app.db().begin().await.unwrap();
    hms_core::settings::put(&mut tx, "mail_from", FROM)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Registers a patient through the screen; returns the id.
async fn patient(c: &Client, first: &str, phone: &str, email: &str, consent: bool) -> i64 {
    c.get("/patients/new").await;
    let mut fields = vec![
        ("first_name", first),
        ("last_name", "Mwangi"),
        ("sex", "female"),
        ("age_years", "34"),
        ("id_type", "none"),
        ("phone", phone),
        ("email", email),
        ("register_anyway", "1"),
    ];
    if consent {
        fields.push(("consent_contact", "1"));
    }
    let r = c.post_form("/patients", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    id_from(r.location())
}

/// An OPD clinic (30-minute slots) where a doctor works 08:00–12:00 every day, and an MCH
/// clinic day running every day, both open on holidays so that any "tomorrow" can be booked.
/// Returns (opd, mch, doctor).
async fn clinics(app: &TestApp, admin: &Client) -> (i64, i64, i64) {
    let doctor = app.add_user("dr.otieno", &["doctor"]).await;
    let opd = add_clinic(
        admin,
        &[
            ("name", "OPD"),
            ("booking", "slots"),
            ("slot_minutes", "30"),
            ("opens_on_holidays", "1"),
        ],
    )
    .await;
    for weekday in 1..=7 {
        add_hours(admin, opd, doctor, weekday, ("08:00", "12:00"), None).await;
    }
    let mut mch = vec![
        ("name", "MCH"),
        ("booking", "day"),
        ("daily_capacity", "50"),
        ("opens_on_holidays", "1"),
    ];
    for weekday in ["1", "2", "3", "4", "5", "6", "7"] {
        mch.push(("weekday", weekday));
    }
    (opd, add_clinic(admin, &mch).await, doctor)
}

/// Books through the reception screen; a slot when `slot` is given. Returns the appointment id.
async fn book(
    c: &Client,
    patient: i64,
    clinic: i64,
    clinician: Option<i64>,
    day: NaiveDate,
    slot: Option<&str>,
    reason: &str,
) -> i64 {
    c.get("/appointments/book").await;
    let (patient, clinic, day) = (patient.to_string(), clinic.to_string(), text(day));
    let clinician = clinician.map(|c| c.to_string());
    let mut fields = vec![
        ("patient", patient.as_str()),
        ("clinic", clinic.as_str()),
        ("day", day.as_str()),
        ("reason", reason),
    ];
    if let Some(c) = &clinician {
        fields.push(("clinician", c));
    }
    if let Some(s) = slot {
        fields.push(("slot", s));
    }
    let r = c.post_form("/appointments", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    id_from(r.location())
}

fn system() -> Actor {
    Actor {
        user_id: None,
        client_addr: Some("system".into()),
        request_id: None,
    }
}

/// The outbox rows as (channel, to, status).
async fn outbox_rows(db: &Db) -> Vec<(String, String, String)> {
    sqlx::query("SELECT channel, to_address, status FROM outbox ORDER BY id")
        .fetch_all(db.read())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn recipients(mails: &[Mail]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in mails {
        for to in &m.rcpt_to {
            *seen.entry(to.clone()).or_default() += 1;
        }
    }
    seen
}

/// `hms reminders run --day DAY` against the test app's database.
async fn cli_run(app: &TestApp, day: NaiveDate) -> ExitCode {
    let loaded = Loaded {
        config: app.app.config.clone(),
        sources: Default::default(),
        file: None,
        module_sources: Default::default(),
    };
    let day = day.format("%Y-%m-%d").to_string();
    hms_web::cli::run_args(["hms", "reminders", "run", "--day", &day], loaded).await
}

each_backend! {
    async fn a_consenting_patient_gets_one_reminder_however_often_and_wherever_the_job_runs(app) {
        let smtp = SmtpServer::start().await;
        let admin = app.setup_admin().await;
        set_mail_from(&app).await;
        let (opd, mch, doctor) = clinics(&app, &admin).await;
        let day = tomorrow();
        let wanjiru = patient(&admin, "Wanjiru", "0722000001", "wanjiru@example.co.ke", true).await;
        let otieno = patient(&admin, "Otieno", "0722000002", "otieno@example.co.ke", false).await;
        let kamau = patient(&admin, "Kamau", "0722000003", "", true).await;
        let njeri = patient(&admin, "Njeri", "0722000004", "njeri@example.co.ke", true).await;
        let akinyi = patient(&admin, "Akinyi", "0722000005", "akinyi@example.co.ke", true).await;
        book(&admin, wanjiru, opd, Some(doctor), day, Some("510"), "Viral load results").await;
        book(&admin, otieno, mch, None, day, None, "Family planning").await;
        book(&admin, kamau, mch, None, day, None, "Family planning").await;
        let cancelled = book(&admin, njeri, mch, None, day, None, "Family planning").await;
        let r = admin.post_form(&format!("/appointments/{cancelled}/cancel"), &[("cancel_reason", "Travelling")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        // Another day's appointment waits for its own day.
        book(&admin, akinyi, mch, None, day + chrono::Duration::days(1), None, "Immunisation").await;

        // Two app servers (each with its own connections) run the job at once, twice each.
        let facility = Facility::from_settings(app.db()).await.unwrap();
        assert_eq!(facility.name, FACILITY);
        let other = Db::connect(&app.app.config.effective_database_url()).await.unwrap();
        let run = |db: Db| {
            let facility = facility.clone();
            tokio::spawn(async move {
                let first = queue_reminders(&db, day, &facility, &system()).await.unwrap();
                let second = queue_reminders(&db, day, &facility, &system()).await.unwrap();
                first + second
            })
        };
        let (a, b) = (run(app.db().clone()), run(other.clone()));
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 1, "one reminder queued in all");
        assert_eq!(queue_reminders(app.db(), day, &facility, &system()).await.unwrap(), 0);
        // The command line queues nothing more either.
        assert_eq!(cli_run(&app, day).await, ExitCode::SUCCESS);

        let rows = outbox_rows(app.db()).await;
        assert_eq!(rows, vec![("email".to_string(), "wanjiru@example.co.ke".to_string(), "queued".to_string())]);
        assert_eq!(app.audit_count("appointment.reminder_queued").await, 1);
        let audit = sqlx::query("SELECT patient_id, detail FROM audit_log WHERE action = 'appointment.reminder_queued'")
            .fetch_one(app.db().read()).await.unwrap();
        assert_eq!(audit.get::<i64, _>(0), wanjiru);
        let detail: String = audit.get(1);
        assert!(!detail.contains('@') && !detail.contains("Wanjiru"), "no address or name: {detail}");

        // Both servers' senders deliver: the reminder arrives once.
        let a = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap();
        let b = Sender::new(other.clone(), &smtp.url(), fast()).unwrap();
        let (sa, sb) = tokio::join!(a.run_once(), b.run_once());
        assert_eq!(sa.unwrap() + sb.unwrap(), 1);
        let mails = smtp.wait_for(1, Duration::from_secs(5)).await;
        assert_eq!(a.run_once().await.unwrap() + b.run_once().await.unwrap(), 0);
        let mails = if mails.len() == 1 { smtp.mails() } else { mails };
        assert_eq!(recipients(&mails), HashMap::from([("wanjiru@example.co.ke".to_string(), 1)]));
        let m = &mails[0];
        let subject = m.header("Subject").unwrap();
        assert!(subject.contains(FACILITY), "{subject}");
        let body = m.body();
        let weekday = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            [day.weekday().num_days_from_monday() as usize];
        for part in [FACILITY, "OPD", &day.format("%d/%m/%Y").to_string(), weekday, "08:30", "patient card"] {
            assert!(body.contains(part), "{part} in the email: {body}");
        }
        assert!(!body.contains("Viral load") && !body.contains("Wanjiru"), "no reason or name: {body}");
        assert_eq!(outbox_rows(app.db()).await[0].2, "sent");
        other.close().await;
    }

    async fn withdrawn_consent_and_swahili_facilities_are_followed(app) {
        let admin = app.setup_admin().await;
        let (_, mch, _) = clinics(&app, &admin).await;
        let day = tomorrow();
        let halima = patient(&admin, "Halima", "0722000011", "halima@example.co.ke", true).await;
        let zawadi = patient(&admin, "Zawadi", "0722000012", "zawadi@example.co.ke", true).await;
        book(&admin, halima, mch, None, day, None, "Antenatal care").await;
        book(&admin, zawadi, mch, None, day, None, "Antenatal care").await;
        // Zawadi withdraws her consent after booking (through her record).
        let mut tx = app.db().begin().await.unwrap();
        sqlx::query("UPDATE patients SET consent_contact = 0 WHERE id = $1").bind(zawadi).execute(&mut *tx).await.unwrap();
        hms_core::settings::put(&mut tx, "default_language", "sw").await.unwrap();
        tx.commit().await.unwrap();

        let facility = Facility::from_settings(app.db()).await.unwrap();
        assert_eq!(facility.language, "sw");
        assert_eq!(queue_reminders(app.db(), day, &facility, &system()).await.unwrap(), 1);
        let row = sqlx::query("SELECT to_address, subject, body_text, channel FROM outbox")
            .fetch_one(app.db().read()).await.unwrap();
        let (to, subject, body, channel): (String, String, String, String) = (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!((to.as_str(), channel.as_str()), ("halima@example.co.ke", "email"));
        assert!(subject.starts_with("Ukumbusho wa miadi") && subject.contains(FACILITY), "{subject}");
        assert!(body.contains("Kliniki: MCH") && body.contains("siku ya kliniki") && body.contains("kadi"), "{body}");
        assert!(!body.contains("Antenatal"), "{body}");
        let queued: i64 = sqlx::query("SELECT COUNT(*) FROM appointments WHERE reminder_queued_at IS NOT NULL")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(queued, 1, "Zawadi's appointment is left alone");
    }

    async fn text_messages_wait_for_an_sms_gateway(app) {
        let smtp = SmtpServer::start().await;
        set_mail_from(&app).await;
        let mut tx = app.db().begin().await.unwrap();
        let sms = outbox::enqueue_on(&mut tx, outbox::SMS, "0712345678", "", "See you tomorrow.").await.unwrap();
        let email = outbox::enqueue(&mut tx, "amina@example.co.ke", "Hours", "Open at 8.").await.unwrap();
        assert!(outbox::enqueue_on(&mut tx, "pigeon", "roof", "", "").await.is_err());
        tx.commit().await.unwrap();
        let sender = Sender::new(app.db().clone(), &smtp.url(), fast()).unwrap();
        assert_eq!(sender.run_once().await.unwrap(), 1, "only the email is taken");
        assert_eq!(smtp.wait_for(1, Duration::from_secs(5)).await.len(), 1);
        assert_eq!(outbox::status(app.db(), email).await.unwrap().unwrap().0, "sent");
        assert_eq!(outbox::status(app.db(), sms).await.unwrap().unwrap(), ("queued".into(), 0, None));
        let listed = outbox::unsent(app.db(), 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].channel, "sms");
        let page = app.setup_admin().await.get("/admin/outbox").await;
        assert!(page.body.contains("0712345678") && page.body.contains(">SMS<"), "{}", page.body);
    }
}

/// The server's own wiring: with an email server configured, the background work every enabled
/// module hands over (here the appointments module's reminders) queues tomorrow's reminder and
/// the outbox sender delivers it; `hms reminders run` then queues another day's.
async fn the_server_queues_tomorrows_reminders_by_itself(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let Some(app) = TestApp::start_with(backend, |c| {
        c.smtp_url = Some(url);
        c.set_module_value("appointments", "reminder_hour", 0);
        c.set_module_value("appointments", "reminder_days_before", 1);
    })
    .await
    else {
        return;
    };
    let admin = app.setup_admin().await;
    set_mail_from(&app).await;
    let (_, mch, _) = clinics(&app, &admin).await;
    let wanjiru = patient(
        &admin,
        "Wanjiru",
        "0722000021",
        "wanjiru@example.co.ke",
        true,
    )
    .await;
    let baraka = patient(&admin, "Baraka", "0722000022", "baraka@example.co.ke", true).await;
    book(
        &admin,
        wanjiru,
        mch,
        None,
        tomorrow(),
        None,
        "Antenatal care",
    )
    .await;
    let later = tomorrow() + chrono::Duration::days(2);
    book(&admin, baraka, mch, None, later, None, "Antenatal care").await;

    let background = hms_web::server::start_background(&app.app);
    let sender = hms_web::server::start_outbox(&app.app).expect("the sender starts");
    let mails = smtp.wait_for(1, Duration::from_secs(30)).await;
    background.stop(Duration::from_secs(10)).await;
    assert_eq!(
        recipients(&mails),
        HashMap::from([("wanjiru@example.co.ke".to_string(), 1)])
    );
    assert_eq!(app.audit_count("appointment.reminder_queued").await, 1);

    // The command line, for another day, while the sender runs.
    assert_eq!(cli_run(&app, later).await, ExitCode::SUCCESS);
    assert_eq!(cli_run(&app, later).await, ExitCode::SUCCESS);
    smtp.wait_for(2, Duration::from_secs(30)).await;
    sender.stop(Duration::from_secs(5)).await;
    assert_eq!(
        recipients(&smtp.mails()),
        HashMap::from([
            ("wanjiru@example.co.ke".to_string(), 1),
            ("baraka@example.co.ke".to_string(), 1),
        ])
    );
    assert_eq!(app.audit_count("appointment.reminder_queued").await, 2);
    let cli_rows: i64 = sqlx::query(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'appointment.reminder_queued' \
         AND client_addr = 'cli'",
    )
    .fetch_one(app.db().read())
    .await
    .unwrap()
    .get(0);
    assert_eq!(cli_rows, 1);
}

mod the_server_queues_tomorrows_reminders {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        the_server_queues_tomorrows_reminders_by_itself(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        the_server_queues_tomorrows_reminders_by_itself(Backend::Postgres).await;
    }
}
