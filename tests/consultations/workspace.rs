//! Consultations tests: workspace. The doctor's queue and *Take next* (twenty doctors at once get
//! twenty patients), the consultation page, drafts saved on the server with versions (a stale
//! save answers 409 with both texts), signing and its rules, a signed note that refuses even a
//! raw SQL UPDATE, addenda, the doctor's cards; and a doctor's walk in a real browser.

use hms_testkit::browser::*;
use hms_testkit::domain::*;
use hms_testkit::{each_backend, Backend, Client, TestApp, TestResponse, PASSWORD};
use sqlx::Row;

/// Reception and one doctor, signed in.
async fn desk_and_doctor(app: &TestApp) -> (Client, Client) {
    app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    app.add_user("doctor", &["doctor"]).await;
    (app.login("desk").await, app.login("doctor").await)
}

/// A patient checked in straight to the consultation queue; (patient, visit).
async fn waiting_patient(desk: &Client, first: &str, last: &str, phone: &str) -> (i64, i64) {
    let p = register_quick(desk, first, last, phone).await;
    let v = visit_id(&submit_check_in(desk, p, "consultation", "").await);
    (p, v)
}

/// Presses *Take next*; the note it opened.
async fn take_next(doctor: &Client) -> i64 {
    take_next_patient(doctor).await
}

async fn one_i64(app: &TestApp, sql: &'static str, id: i64) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

async fn one_text(app: &TestApp, sql: &'static str, id: i64) -> String {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// Runs one statement of the test's own on note `id` in a transaction of its own.
async fn exec(app: &TestApp, sql: &'static str, id: i64) -> Result<(), sqlx::Error> {
    let mut tx = app.db().begin().await.expect("begin");
    sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    tx.commit().await
}

/// The note's diagnosis, written as the diagnoses part writes one (free text).
async fn add_diagnosis(app: &TestApp, note: i64, text: &str) -> i64 {
    let mut tx = app.db().begin().await.expect("begin");
    let r = sqlx::query(
        "INSERT INTO encounter_diagnoses (encounter_id, patient_id, visit_id, visit_day, \
         free_text, display, certainty, added_at) \
         SELECT id, patient_id, visit_id, visit_day, $2, $2, 'final', started_at \
         FROM encounters WHERE id = $1 RETURNING id",
    )
    .bind(note)
    .bind(text)
    .fetch_one(&mut *tx)
    .await
    .expect("diagnosis added");
    tx.commit().await.expect("commit");
    r.get(0)
}

/// Saves the note's texts over `version`.
async fn save(
    doctor: &Client,
    note: i64,
    version: i64,
    complaint: &str,
    history: &str,
) -> TestResponse {
    let v = version.to_string();
    doctor
        .post_form(
            &format!("/consultations/{note}/draft"),
            &[
                ("version", v.as_str()),
                ("complaint", complaint),
                ("complaint_duration", "3 days"),
                ("history", history),
                ("examination", ""),
                ("assessment", ""),
                ("plan", ""),
            ],
        )
        .await
}

each_backend! {
    async fn take_next_calls_serves_and_opens_a_draft_and_an_empty_queue_says_so(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        app.add_user("nurse", &["nurse"]).await;
        let nurse = app.login("nurse").await;

        // Nobody waiting: the workspace says so, and Take next opens nothing.
        let empty = doctor.get("/consultations").await;
        assert_eq!(empty.status, 200);
        assert!(empty.body.contains("Nobody is waiting."), "{}", empty.body);
        let r = doctor.post_form("/consultations/next", &[]).await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("Nobody is waiting for consultation now."), "{}", r.body);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM encounters").await, 0);

        let (amina, visit) = waiting_patient(&desk, "Amina", "Kamau", "0712000001").await;
        let list = doctor.get("/consultations").await;
        assert!(list.body.contains("Amina Kamau") && list.body.contains("Waiting for consultation (1)"), "{}", list.body);

        let note = take_next(&doctor).await;
        let entry_state = sqlx::query(
            "SELECT e.state FROM queue_entries e JOIN service_points s ON s.id = e.service_point_id \
             WHERE e.visit_id = $1 AND s.code = 'consultation'",
        )
        .bind(visit)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get::<String, _>(0);
        assert_eq!(entry_state, "serving");
        assert_eq!(one_text(&app, "SELECT state FROM encounters WHERE id = $1", note).await, "draft");
        assert_eq!(one_i64(&app, "SELECT visit_id FROM encounters WHERE id = $1", note).await, visit);
        assert_eq!(one_i64(&app, "SELECT patient_id FROM encounters WHERE id = $1", note).await, amina);
        assert_eq!(app.audit_count("consultation.open").await, 1);

        let page = doctor.get(&format!("/consultations/{note}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Amina Kamau") && page.body.contains("id=\"note-form\""), "{}", page.body);
        assert!(page.body.contains("No allergies recorded."));
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("consultation.view").await, 1);

        // The list shows the note in progress; the queue is empty again.
        let list = doctor.get("/consultations").await;
        assert!(list.body.contains(&format!("/consultations/{note}")) && list.body.contains("Waiting for consultation (0)"));

        // A nurse reads notes but has no workspace; reception reads neither.
        assert_eq!(nurse.get("/consultations").await.status, 403);
        let read = nurse.get(&format!("/consultations/{note}")).await;
        assert_eq!(read.status, 200);
        assert!(!read.body.contains("id=\"note-form\""), "a nurse gets no note form");
        assert_eq!(nurse.post_form(&format!("/consultations/{note}/draft"), &[("version", "1"), ("complaint", "x")]).await.status, 403);
        assert_eq!(desk.get(&format!("/consultations/{note}")).await.status, 403);
        assert_eq!(doctor.get("/consultations/999999").await.status, 404);
    }

    async fn drafts_save_versions_and_a_save_over_a_newer_version_answers_409_with_both_texts(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        waiting_patient(&desk, "Baraka", "Otieno", "0712000002").await;
        let note = take_next(&doctor).await;
        doctor.get(&format!("/consultations/{note}")).await;

        let r = save(&doctor, note, 1, "Fever", "Fever since Friday").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("X-Draft-Version"), Some("2"));
        assert!(r.body.contains("id=\"draft-version\" value=\"2\""), "{}", r.body);
        assert_eq!(one_i64(&app, "SELECT version FROM encounters WHERE id = $1", note).await, 2);
        assert_eq!(one_i64(&app, "SELECT COUNT(*) FROM encounter_versions WHERE encounter_id = $1", note).await, 1);

        // Leaving a field without typing saves nothing new.
        let same = save(&doctor, note, 2, "Fever", "Fever since Friday").await;
        assert_eq!((same.status, same.header("X-Draft-Version")), (200, Some("2")));
        assert_eq!(one_i64(&app, "SELECT COUNT(*) FROM encounter_versions WHERE encounter_id = $1", note).await, 1);

        // A second tab still at version 1: refused with both texts, nothing overwritten.
        let stale = save(&doctor, note, 1, "Headache", "Dictated: headache for a week").await;
        assert_eq!(stale.status, 409, "{}", stale.body);
        assert!(stale.body.contains("Dictated: headache for a week") && stale.body.contains("Fever since Friday"), "{}", stale.body);
        assert!(stale.body.contains("Keep my text"));
        assert_eq!(one_text(&app, "SELECT history FROM encounters WHERE id = $1", note).await, "Fever since Friday");

        // Keeping one's text saves it over the version it was shown.
        let kept = save(&doctor, note, 2, "Headache", "Dictated: headache for a week").await;
        assert_eq!((kept.status, kept.header("X-Draft-Version")), (200, Some("3")));
        let texts: Vec<String> = sqlx::query("SELECT texts FROM encounter_versions WHERE encounter_id = $1 ORDER BY version")
            .bind(note).fetch_all(app.db().read()).await.unwrap().into_iter().map(|r| r.get(0)).collect();
        assert_eq!(texts.len(), 2);
        assert!(texts[0].contains("Fever since Friday") && texts[1].contains("Dictated"), "every version kept");

        // Too long: 422, nothing saved.
        let long = "x".repeat(501);
        let r = save(&doctor, note, 3, &long, "").await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("at most 500 characters"));
        assert_eq!(one_i64(&app, "SELECT version FROM encounters WHERE id = $1", note).await, 3);

        // Script typed into the note shows as text.
        let r = save(&doctor, note, 3, "<script>alert(1)</script>", "").await;
        assert_eq!(r.status, 200);
        let page = doctor.get(&format!("/consultations/{note}")).await;
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.body.contains("<script>alert(1)"));

        // Saves are audited without their text.
        let details: Vec<String> = sqlx::query("SELECT detail FROM audit_log WHERE action = 'consultation.draft_save'")
            .fetch_all(app.db().read()).await.unwrap().into_iter().map(|r| r.get(0)).collect();
        assert_eq!(details.len(), 3);
        assert!(!details.iter().any(|d| d.contains("Fever") || d.contains("Dictated")), "{details:?}");
    }

    async fn twenty_doctors_pressing_take_next_at_once_get_twenty_different_patients(app) {
        let (desk, _) = desk_and_doctor(&app).await;
        for n in 0..20 {
            waiting_patient(&desk, "Neema", &format!("Wanjiku{}", (b'A' + n as u8) as char), &format!("07120001{n:02}")).await;
        }
        let mut doctors = Vec::new();
        for n in 0..20 {
            let name = format!("doc{n}");
            app.add_user(&name, &["doctor"]).await;
            let c = app.login(&name).await;
            c.get("/consultations").await;
            doctors.push(c);
        }
        let mut tasks = Vec::new();
        for c in doctors {
            tasks.push(tokio::spawn(async move {
                let r = c.post_form("/consultations/next", &[]).await;
                (r.status, r.location().map(str::to_string), r.body)
            }));
        }
        let mut notes = Vec::new();
        for t in tasks {
            let (status, to, body) = t.await.unwrap();
            assert_eq!(status, 303, "{body}");
            notes.push(to.unwrap());
        }
        notes.sort();
        notes.dedup();
        assert_eq!(notes.len(), 20, "twenty different notes");
        assert_eq!(app.scalar("SELECT COUNT(DISTINCT visit_id) FROM encounters").await, 20);
        assert_eq!(app.scalar("SELECT COUNT(DISTINCT clinician_id) FROM encounters").await, 20);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM queue_entries WHERE state = 'serving'").await, 20);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM queue_entries WHERE state = 'waiting'").await, 0);
    }

    async fn signing_needs_a_complaint_a_diagnosis_and_an_outcome_then_the_note_never_changes(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        let (patient, visit) = waiting_patient(&desk, "Chebet", "Kiprono", "0712000003").await;
        let note = take_next(&doctor).await;
        let path = format!("/consultations/{note}/sign");
        doctor.get(&format!("/consultations/{note}")).await;

        // No complaint, no outcome: 422 beside the fields, nothing signed.
        let r = doctor.post_form(&path, &[("version", "1")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("Write the presenting complaint.") && r.body.contains("Choose the outcome of the visit."));

        // A complaint (sent with the sign button) but no diagnosis.
        let fields = |outcome: &'static str, facility: &'static str| {
            vec![("version", "1"), ("complaint", "Cough"), ("complaint_duration", "2 weeks"), ("history", "Night sweats"),
                 ("outcome", outcome), ("referral_facility", facility)]
        };
        let r = doctor.post_form(&path, &fields("home", "")).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("Add at least one diagnosis before signing."), "{}", r.body);
        assert_eq!(one_text(&app, "SELECT state FROM encounters WHERE id = $1", note).await, "draft");
        assert_eq!(one_i64(&app, "SELECT version FROM encounters WHERE id = $1", note).await, 1, "nothing saved");

        let diagnosis = add_diagnosis(&app, note, "Pulmonary tuberculosis").await;
        // A referral needs a KMHFL code (five digits) or a community unit.
        let r = doctor.post_form(&path, &fields("referral", "")).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("KMHFL code or the community unit"));
        let r = doctor.post_form(&path, &fields("referral", "12ab")).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("A KMHFL code is five digits"));
        // A version someone else has moved past: 409, nothing signed.
        let r = doctor.post_form(&path, &[("version", "7"), ("outcome", "home"), ("complaint", "Cough from the other tab")]).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("Cough from the other tab") && r.body.contains("Keep my text"), "both texts shown: {}", r.body);

        let r = doctor.post_form(&path, &fields("referral", "13023")).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let row = sqlx::query("SELECT state, outcome, outcome_detail, complaint, history, version, signed_by FROM encounters WHERE id = $1")
            .bind(note).fetch_one(app.db().read()).await.unwrap();
        assert_eq!(row.get::<String, _>(0), "signed");
        assert_eq!(row.get::<Option<String>, _>(1).as_deref(), Some("referral"));
        assert!(row.get::<String, _>(2).contains("13023"));
        assert_eq!((row.get::<String, _>(3), row.get::<String, _>(4)), ("Cough".into(), "Night sweats".into()));
        assert_eq!(row.get::<i64, _>(5), 2, "the texts sent with the sign button were saved first");
        assert!(row.get::<Option<i64>, _>(6).is_some());
        // The consultation entry is done and, sent nowhere, the visit is complete.
        assert_eq!(one_text(&app, "SELECT status FROM visits WHERE id = $1", visit).await, "completed");
        assert_eq!(app.audit_count("consultation.sign").await, 1);

        let page = doctor.get(&format!("/consultations/{note}")).await;
        assert!(page.body.contains("The note is signed.") && page.body.contains("Night sweats") && page.body.contains("13023"), "{}", page.body);
        assert!(!page.body.contains("id=\"note-form\""));

        // Signed: saves and a second signing are refused.
        let r = save(&doctor, note, 2, "Changed", "").await;
        assert_eq!(r.status, 409);
        assert!(r.body.contains("has been signed"));
        let r = doctor.post_form(&path, &fields("home", "")).await;
        assert_eq!(r.status, 303);
        assert_eq!(one_text(&app, "SELECT complaint FROM encounters WHERE id = $1", note).await, "Cough");

        // Addenda: text, and a diagnosis marked entered in error (once).
        let addenda = format!("/consultations/{note}/addenda");
        let r = doctor.post_form(&addenda, &[("kind", "text"), ("text", "")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Write the addendum."));
        let r = doctor.post_form(&addenda, &[("kind", "text"), ("text", "Sputum sent to the county lab.")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let d = diagnosis.to_string();
        let r = doctor.post_form(&addenda, &[("kind", "error"), ("diagnosis", d.as_str()), ("text", "Wrong patient's result")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let r = doctor.post_form(&addenda, &[("kind", "error"), ("diagnosis", d.as_str()), ("text", "again")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("already marked entered in error"));
        let page = doctor.get(&format!("/consultations/{note}")).await;
        assert!(page.body.contains("Sputum sent to the county lab.") && page.body.contains("Entered in error"));
        assert_eq!(app.audit_count("consultation.addendum").await, 2);

        // The chart's timeline lists the signed consultation (the diagnosis in error left out).
        let chart = doctor.get(&format!("/patients/{patient}")).await;
        assert_eq!(chart.status, 200);
        assert!(chart.body.contains("Cough · Referral") && !chart.body.contains("Consultation: Pulmonary"), "{}", chart.body);
    }

    async fn a_patient_sent_to_the_laboratory_comes_back_to_the_same_draft(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        app.add_user("lab", &["lab_tech"]).await;
        let lab = app.login("lab").await;
        let (_, visit) = waiting_patient(&desk, "Kerubo", "Moraa", "0712000009").await;
        let note = take_next(&doctor).await;
        save(&doctor, note, 1, "Fever", "Malaria test needed").await;
        let page = doctor.get(&format!("/consultations/{note}")).await;
        assert!(page.body.contains("id=\"send-point\""), "{}", page.body);
        let r = doctor.post_form(&format!("/consultations/{note}/send"), &[("point", "laboratory")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), Some("/consultations"));
        assert_eq!(one_text(&app, "SELECT status FROM visits WHERE id = $1", visit).await, "open");
        assert_eq!(one_text(&app, "SELECT state FROM encounters WHERE id = $1", note).await, "draft");

        // The laboratory calls, serves and sends the patient back.
        lab.get("/queues/laboratory").await;
        assert_eq!(lab.post_form("/queues/laboratory/call", &[]).await.status, 303);
        let entry = one_i64(&app, "SELECT e.id FROM queue_entries e JOIN service_points s ON s.id = e.service_point_id \
             WHERE e.visit_id = $1 AND s.code = 'laboratory'", visit).await;
        assert_eq!(lab.post_form(&format!("/queues/laboratory/entries/{entry}/serve"), &[]).await.status, 303);
        let r = lab.post_form(&format!("/queues/laboratory/entries/{entry}/send"), &[("point", "consultation")]).await;
        assert_eq!(r.status, 303, "{}", r.body);

        // Take next opens the same draft, with what was written.
        let again = take_next(&doctor).await;
        assert_eq!(again, note);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM encounters").await, 1);
        let page = doctor.get(&format!("/consultations/{note}")).await;
        assert!(page.body.contains("Malaria test needed"));
        let reopened: String = sqlx::query("SELECT detail FROM audit_log WHERE action = 'consultation.open' ORDER BY id DESC")
            .fetch_one(app.db().read()).await.unwrap().get(0);
        assert!(reopened.contains("\"reopened\":true"), "{reopened}");
    }

    async fn a_signed_note_refuses_a_raw_sql_update_and_delete(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        waiting_patient(&desk, "Dida", "Galgalo", "0712000004").await;
        let note = take_next(&doctor).await;
        // A draft may change.
        exec(&app, "UPDATE encounters SET complaint = 'Fever' WHERE id = $1", note).await.expect("a draft changes");
        exec(&app, "UPDATE encounters SET state = 'signed', signed_at = '2026-12-07T08:00:00Z', signed_by = clinician_id WHERE id = $1", note).await.expect("signing");
        let refused = exec(&app, "UPDATE encounters SET complaint = 'Changed later' WHERE id = $1", note).await;
        let message = refused.expect_err("a signed note refuses UPDATE").to_string();
        assert!(message.contains("a signed consultation never changes"), "{message}");
        let refused = exec(&app, "UPDATE encounters SET state = 'draft' WHERE id = $1", note).await;
        assert!(refused.is_err(), "a signed note is never made a draft again");
        let refused = exec(&app, "DELETE FROM encounters WHERE id = $1", note).await;
        assert!(refused.is_err());
        assert_eq!(one_text(&app, "SELECT complaint FROM encounters WHERE id = $1", note).await, "Fever");
    }

    async fn the_doctors_cards_count_waiting_results_and_unsigned_notes(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        waiting_patient(&desk, "Ekai", "Lokwang", "0712000005").await;
        waiting_patient(&desk, "Fundi", "Mwinyi", "0712000006").await;
        let card = doctor.get_htmx("/consultations/cards/waiting").await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("class=\"figure\">2<") && card.body.contains("action=\"/consultations/next\""), "{}", card.body);
        let note = take_next(&doctor).await;
        let card = doctor.get_htmx("/consultations/cards/unsigned").await;
        assert!(card.body.contains("class=\"figure\">0<"), "{}", card.body);
        // A draft left from an earlier day is an unsigned note.
        exec(&app, "UPDATE encounters SET visit_day = '2026-01-05' WHERE id = $1", note).await.unwrap();
        let card = doctor.get_htmx("/consultations/cards/unsigned").await;
        assert!(card.body.contains("class=\"figure\">1<"), "{}", card.body);
        let list = doctor.get("/consultations").await;
        assert!(list.body.contains("Unsigned notes of earlier days"));
        let card = doctor.get_htmx("/consultations/cards/results").await;
        assert!(card.body.contains("class=\"figure\">0<"), "{}", card.body);
        let card = doctor.get_htmx("/consultations/cards/critical-results").await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("class=\"figure\">0<"), "{}", card.body);
        // Kiswahili.
        doctor.post_form("/language", &[("lang", "sw"), ("next", "/consultations")]).await;
        let list = doctor.get("/consultations").await;
        assert!(list.body.contains("Chukua mgonjwa anayefuata"), "{}", list.body);
    }

    async fn a_follow_up_outcome_links_to_the_booking_page_prefilled(app) {
        let (desk, doctor) = desk_and_doctor(&app).await;
        let (patient, _) = waiting_patient(&desk, "Halima", "Noor", "0712000007").await;
        let note = take_next(&doctor).await;
        add_diagnosis(&app, note, "Hypertension").await;
        let path = format!("/consultations/{note}/sign");
        doctor.get(&format!("/consultations/{note}")).await;
        let base = [("version", "1"), ("complaint", "Headache"), ("outcome", "follow_up")];
        let mut bad = base.to_vec();
        bad.push(("follow_up_day", "01/01/2020"));
        let r = doctor.post_form(&path, &bad).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Give a day after today"));
        let day = chrono::Local::now().date_naive() + chrono::Days::new(14);
        let typed = day.format("%d/%m/%Y").to_string();
        let mut good = base.to_vec();
        good.push(("follow_up_day", typed.as_str()));
        good.push(("next_point", "pharmacy"));
        let r = doctor.post_form(&path, &good).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let page = doctor.get(&format!("/consultations/{note}")).await;
        let href = format!("/appointments/book?patient={patient}&amp;day={}", day.format("%Y-%m-%d"));
        assert!(page.body.contains(&href), "{}", page.body);
        // Sent on to the pharmacy: the visit stays open there.
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM queue_entries e JOIN service_points s ON s.id = e.service_point_id WHERE s.code = 'pharmacy' AND e.state = 'waiting'").await,
            1
        );
    }
}

/// A doctor takes the next patient, writes the note (saved by itself while typing), is refused
/// signing without a diagnosis, codes one as they type, orders a test and a drug, signs with a
/// referral and prints the referral letter (patient, diagnosis and registration number in it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_takes_next_writes_codes_orders_signs_and_prints_a_referral_in_the_browser() {
    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let (desk, doctor_http) = desk_and_doctor(&app).await;
    waiting_patient(&desk, "Imani", "Jeptoo", "0712000008").await;
    // Documents print the clinician's cadre and registration number.
    let mut tx = app.db().begin().await.expect("begin");
    sqlx::query(
        "UPDATE users SET cadre = 'Medical Officer', registration_no = 'KMPDC-A77777' \
         WHERE username = 'doctor'",
    )
    .execute(&mut *tx)
    .await
    .expect("doctor's registration");
    tx.commit().await.expect("commit");
    let app_ref = &app;
    let doctor_http = &doctor_http;
    in_browser(
        &tools,
        &app,
        "consultations-workspace",
        move |driver, base_url, shots| async move {
            driver.goto(format!("{base_url}/login")).await?;
            sign_in(&driver, "doctor", PASSWORD).await?;
            wait_for_path(&driver, "/").await?;
            // The dashboard's cards of other parts of the module are checked by their own walks.
            console_problems(&driver, "dashboard").await?;
            driver.goto(format!("{base_url}/consultations")).await?;
            assert_clean_console(&driver, "workspace").await?;
            assert!(page_text(&driver).await?.contains("Imani Jeptoo"));
            screenshot(&driver, &shots, "consultations-workspace").await?;
            click(&driver, "#take-next").await?;
            wait_until_path(&driver, "a consultation", |p| {
                p.starts_with("/consultations/") && p != "/consultations/next"
            })
            .await?;
            let path = driver.current_url().await?.path().to_string();
            let note: i64 = path
                .trim_start_matches("/consultations/")
                .parse()
                .expect("note id");

            // Typing saves on the server by itself.
            fill(&driver, "complaint", "Fever and cough").await?;
            fill(&driver, "history", "Three days of fever.").await?;
            click(&driver, "#examination").await?;
            wait_for_text(&driver, "#draft-status", |t| t.contains("Saved at")).await?;
            // Leaving the field saved the rest (the server has it, not the browser).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while one_text(
                app_ref,
                "SELECT history FROM encounters WHERE id = $1",
                note,
            )
            .await
                != "Three days of fever."
            {
                if std::time::Instant::now() > deadline {
                    let status = driver
                        .find(thirtyfour::By::Css("#draft-status"))
                        .await?
                        .text()
                        .await?;
                    let version = driver
                        .find(thirtyfour::By::Css("#draft-version"))
                        .await?
                        .attr("value")
                        .await?;
                    panic!(
                        "the history was not saved on leaving the field: {status} / {version:?}"
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            screenshot(&driver, &shots, "consultations-note").await?;

            // Signing without a diagnosis is refused beside the form; with one it signs.
            click(&driver, "#outcome-home").await?;
            click(&driver, "#sign-note").await?;
            wait_for_text(&driver, "#sign-refused", |t| {
                t.contains("Add at least one diagnosis")
            })
            .await?;
            // The refusal is a 422 (the browser logs it); nothing else went wrong.
            let problems = console_problems(&driver, "refused signing").await?;
            assert!(
                problems.iter().all(|e| e.message.contains("422")),
                "{}",
                describe(&problems)
            );
            // The diagnosis is found as it is typed and coded.
            fill(&driver, "diagnosis-q", "malaria").await?;
            wait_for_text(&driver, "#diagnosis-picker", |t| t.contains("Malaria")).await?;
            click(&driver, "#diagnosis-picker button[value=final]").await?;
            wait_for_text(&driver, ".diagnosis-list", |t| t.contains("malaria")).await?;
            // A test and a drug go into the basket (no laboratory here and an empty drug
            // catalogue: both as free text), then are placed together.
            select_value(&driver, "order-search-kind", "lab").await?;
            fill(&driver, "order-free_text", "Malaria RDT").await?;
            fill(&driver, "order-quantity", "1").await?;
            click(&driver, "#order-add").await?;
            wait_for_text(&driver, "#orders", |t| t.contains("Place orders (1)")).await?;
            select_value(&driver, "order-search-kind", "drug").await?;
            fill(&driver, "order-free_text", "Artemether/lumefantrine 20/120 mg").await?;
            fill(&driver, "order-quantity", "24").await?;
            fill(&driver, "order-dose", "4").await?;
            fill(&driver, "order-dose_unit", "tablet").await?;
            select_value(&driver, "order-route", "oral").await?;
            select_value(&driver, "order-frequency", "BD").await?;
            fill(&driver, "order-duration_days", "3").await?;
            click(&driver, "#order-add").await?;
            wait_for_text(&driver, "#orders", |t| t.contains("Place orders (2)")).await?;
            click(&driver, "#order-place").await?;
            wait_for_text(&driver, "#orders", |t| t.contains("The basket is empty")).await?;
            assert_eq!(
                one_i64(
                    app_ref,
                    "SELECT COUNT(*) FROM orders WHERE visit_id = \
                     (SELECT visit_id FROM encounters WHERE id = $1) AND state = 'placed'",
                    note,
                )
                .await,
                2
            );
            screenshot(&driver, &shots, "consultations-coded-and-ordered").await?;

            // Signed with a referral to Kenyatta National Hospital (KMHFL 13023).
            click(&driver, "#outcome-referral").await?;
            fill(&driver, "referral_facility", "13023").await?;
            click(&driver, "#sign-note").await?;
            wait_for_text(&driver, "#signed-note", |t| t.contains("Fever and cough")).await?;
            assert!(page_text(&driver).await?.contains("The note is signed."));
            assert_eq!(
                one_text(app_ref, "SELECT state FROM encounters WHERE id = $1", note).await,
                "signed"
            );
            assert_clean_console(&driver, "consultation").await?;
            screenshot_fits(&driver, &shots, "consultations-signed").await?;

            // The referral letter, prefilled with the facility, printed as PDF.
            driver
                .goto(format!(
                    "{base_url}/consultations/{note}/documents/new?kind=referral"
                ))
                .await?;
            fill(&driver, "reason", "Severe malaria: needs admission").await?;
            submit(&driver).await?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let letter = loop {
                let n = one_i64(
                    app_ref,
                    "SELECT COALESCE(MAX(id), 0) FROM consultation_documents WHERE encounter_id = $1",
                    note,
                )
                .await;
                if n > 0 {
                    break n;
                }
                assert!(std::time::Instant::now() < deadline, "no letter was issued");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            };
            let pdf_bytes = doctor_http
                .get(&format!("/consultations/documents/{letter}.pdf"))
                .await
                .bytes;
            let text = hms_testkit::pdf::text(&pdf_bytes);
            for wanted in ["Imani Jeptoo", "Confirmed malaria", "KMPDC-A77777", "13023"] {
                assert!(text.contains(wanted), "{wanted} missing from:\n{text}");
            }
            screenshot_fits(&driver, &shots, "consultations-signed").await?;
            Ok(())
        },
    )
    .await;
}
