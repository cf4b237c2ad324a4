//! Consultations tests: documents. Over HTTP on SQLite and PostgreSQL: a referral letter, sick
//! note, prescription slip and lab request form issued from a note, read back with `pdftotext`
//! (patient, diagnosis, clinician's registration number), numbered per series, a reprint marked
//! "Copy", every print audited and never cached; the sick note's diagnosis only with consent;
//! refusals (422, nothing saved); who may issue and print; and the daily MOH 204A/B register as
//! a page, CSV and PDF.
//!
//! Until the workspace's *Take next* is merged, notes are opened here directly in the database
//! (a visit checked in through the screens, then an `encounters` row), with a coded diagnosis
//! and orders placed through core's `orders::place`.

use hms_core::ids::{PatientId, VisitId};
use hms_core::orders::{self, DrugDetails, Frequency, NewOrder, Route};
use hms_testkit::domain::{register, submit_check_in, take_next_patient, visit_id};
use hms_testkit::{each_backend, pdf, Client, TestApp};
use sqlx::Row;

/// The doctor every test signs in as, with the cadre and registration number documents print.
const DOCTOR: &str = "daktari";
const REG_NO: &str = "KMPDC-A12345";

/// A note the doctor opened with *Take next* for a new visit of `patient`, its texts typed and
/// saved as the workspace saves them; (encounter, visit).
async fn open_note(desk: &Client, doc: &Client, patient: i64) -> (i64, i64) {
    let visit = visit_id(&submit_check_in(desk, patient, "consultation", "").await);
    let enc = take_next_patient(doc).await;
    let r = doc
        .post_form(
            &format!("/consultations/{enc}/draft"),
            &[
                ("version", "1"),
                ("complaint", "Fever and cough"),
                ("complaint_duration", "3 days"),
                ("history", "Cough since Friday"),
                ("examination", "Chest: crackles right base"),
                ("assessment", "Pneumonia likely"),
                ("plan", "Antibiotics, review in 3 days"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "the draft was not saved: {}", r.body);
    (enc, visit)
}

/// A diagnosis from the catalogue (by its code), coded on the draft note, or by addendum once
/// the note is signed.
async fn diagnose(app: &TestApp, doc: &Client, encounter: i64, code: &str) {
    let state: String = sqlx::query("SELECT state FROM encounters WHERE id = $1")
        .bind(encounter)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0);
    let r = if state == "draft" {
        doc.post_form(
            &format!("/consultations/{encounter}/diagnoses"),
            &[("code", code), ("certainty", "final")],
        )
        .await
    } else {
        doc.post_form(
            &format!("/consultations/{encounter}/addenda"),
            &[
                ("kind", "diagnosis"),
                ("code", code),
                ("certainty", "final"),
                ("text", "Found on review of the results"),
            ],
        )
        .await
    };
    assert!(
        r.status == 303 || r.status == 200,
        "{code} not coded: {}",
        r.body
    );
}

/// Signs the note on the workspace with `outcome` (a referral goes to KMHFL 13023).
async fn sign(app: &TestApp, doc: &Client, encounter: i64, outcome: &str) {
    let version: i64 = sqlx::query("SELECT version FROM encounters WHERE id = $1")
        .bind(encounter)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0);
    let version = version.to_string();
    let mut fields = vec![("version", version.as_str()), ("outcome", outcome)];
    if outcome == "referral" {
        fields.push(("referral_facility", "13023"));
    }
    let r = doc
        .post_form(&format!("/consultations/{encounter}/sign"), &fields)
        .await;
    assert!(r.status == 303 || r.status == 200, "not signed: {}", r.body);
    let state: String = sqlx::query("SELECT state FROM encounters WHERE id = $1")
        .bind(encounter)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0);
    assert_eq!(state, "signed", "{}", r.body);
}

/// A drug and a lab test ordered at the visit, as the basket places them.
async fn order(app: &TestApp, patient: i64, visit: i64, kind: &str) {
    let mut o = match kind {
        "drug" => NewOrder::drug(
            PatientId(patient),
            "consultations",
            &DrugDetails {
                code: None,
                drug: "Amoxicillin 500 mg".into(),
                dose: "1".into(),
                dose_unit: "capsule".into(),
                route: Route::Oral,
                frequency: Frequency::Tds,
                max_per_day: None,
                duration_days: 5,
                quantity: 15,
                instructions: "After meals".into(),
            },
        ),
        _ => {
            let mut o = NewOrder::new(
                kind,
                PatientId(patient),
                "consultations",
                "Full blood count",
            );
            o.free_text = Some("Full blood count".into());
            o
        }
    };
    o.visit = Some(VisitId(visit));
    let mut tx = app.db().begin().await.unwrap();
    orders::place(&mut tx, &hms_core::audit::Actor::cli(None), &o)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn patient_number_of(app: &TestApp, patient: i64) -> String {
    sqlx::query("SELECT number FROM patients WHERE id = $1")
        .bind(patient)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

async fn documents_count(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM consultation_documents")
        .await
}

/// The staff of a small clinic: reception, a doctor with cadre and registration number, a
/// nurse; (desk, doctor's client).
async fn staff(app: &TestApp) -> (Client, Client) {
    app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    let doctor = app.add_user(DOCTOR, &["doctor"]).await;
    app.add_user("muuguzi", &["nurse"]).await;
    let mut tx = app.db().begin().await.unwrap();
    sqlx::query(
        "UPDATE users SET full_name = 'Dr Achieng Otieno', cadre = 'Medical Officer', \
         registration_no = $2 WHERE id = $1",
    )
    .bind(doctor)
    .bind(REG_NO)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (app.login("desk").await, app.login(DOCTOR).await)
}

/// Wanjirũ, whose name needs more than ASCII.
async fn wanjiru(desk: &Client) -> i64 {
    register(
        desk,
        &[
            ("first_name", "Wanjirũ"),
            ("last_name", "Njoroge-Ōtieno"),
            ("sex", "female"),
            ("date_of_birth", "1988-03-14"),
            ("id_type", "none"),
            ("phone", "0722 000 111"),
            ("register_anyway", "1"),
        ],
    )
    .await
}

/// Issues a document; the PDF address it redirects to.
async fn issue(doc: &Client, encounter: i64, fields: &[(&str, &str)]) -> String {
    let kind = fields.iter().find(|(k, _)| *k == "kind").unwrap().1;
    let r = doc
        .get(&format!(
            "/consultations/{encounter}/documents/new?kind={kind}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = doc
        .post_form(&format!("/consultations/{encounter}/documents"), fields)
        .await;
    assert_eq!(r.status, 303, "issuing {kind} refused: {}", r.body);
    r.location().unwrap().to_string()
}

fn this_year() -> i32 {
    use chrono::Datelike;
    hms_core::clock::to_local(chrono::Utc::now()).year()
}

each_backend! {
    async fn a_referral_letter_names_patient_diagnosis_and_clinician_and_reprints_say_copy(app) {
        let (desk, doc) = staff(&app).await;
        let patient = wanjiru(&desk).await;
        let (enc, visit) = open_note(&desk, &doc, patient).await;
        diagnose(&app, &doc, enc, "pneumonia").await;
        order(&app, patient, visit, "drug").await;
        sign(&app, &doc, enc, "referral").await;

        let page = doc.get(&format!("/consultations/{enc}/documents")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Referral letter"), "{}", page.body);

        let at = issue(&doc, enc, &[
            ("kind", "referral"),
            ("referral_to", "Kenyatta National Hospital (13023)"),
            ("reason", "Chest X-ray and specialist review"),
        ]).await;
        let first = doc.get(&at).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header("cache-control"), Some("no-store"));
        let text = pdf::text(&first.bytes);
        let number = format!("REF-{}-00001", this_year());
        for want in [
            "Wanjirũ", "Njoroge-Ōtieno", "Pneumonia", "J18.9", REG_NO, "Medical Officer",
            "Dr Achieng Otieno", "Kenyatta National Hospital", number.as_str(),
            "Amoxicillin 500 mg", "Crackles right base",
        ] {
            let found = text.contains(want) || text.to_lowercase().contains(&want.to_lowercase());
            assert!(found, "{want} missing from:\n{text}");
        }
        assert!(!text.contains("COPY"), "the first print is the original:\n{text}");

        let again = doc.get(&at).await;
        let text = pdf::text(&again.bytes);
        assert!(text.contains("COPY"), "a reprint says so:\n{text}");
        assert!(text.contains(&number), "a reprint is the same document");

        // Each series counts on its own; a second referral takes the next number.
        let second = issue(&doc, enc, &[
            ("kind", "referral"),
            ("referral_to", "Community unit Kibera"),
            ("reason", "Home follow-up"),
        ]).await;
        let text = pdf::text(&doc.get(&second).await.bytes);
        assert!(text.contains(&format!("REF-{}-00002", this_year())), "{text}");
        let rx = issue(&doc, enc, &[("kind", "prescription")]).await;
        let text = pdf::text(&doc.get(&rx).await.bytes);
        assert!(text.contains(&format!("RX-{}-00001", this_year())), "{text}");
        assert!(text.contains("Amoxicillin 500 mg"), "{text}");

        // Kept as issued: a diagnosis added later does not change the printed letter.
        diagnose(&app, &doc, enc, "asthma").await;
        let text = pdf::text(&doc.get(&at).await.bytes);
        assert!(text.contains("COPY") && !text.contains("Asthma"), "{text}");
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM consultation_document_prints").await, 5
        );
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM consultation_document_prints WHERE copy = 1").await,
            2
        );
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("consultations.document_print").await, 5);
        assert_eq!(app.audit_count("consultations.document_issue").await, 3);

        // The section lists them for the consultation page, the chart's timeline too.
        let page = doc.get(&format!("/consultations/{enc}/documents")).await;
        assert!(page.body.contains(&number), "{}", page.body);
        let chart = doc.get(&format!("/patients/{patient}")).await;
        assert!(chart.body.contains(&format!("Referral letter {number}")), "{}", chart.body);
    }

    async fn a_sick_note_shows_the_diagnosis_only_with_consent(app) {
        let (desk, doc) = staff(&app).await;
        let patient = wanjiru(&desk).await;
        let (enc, _) = open_note(&desk, &doc, patient).await;
        diagnose(&app, &doc, enc, "pneumonia").await;

        // Not asked: refused, nothing kept.
        doc.get(&format!("/consultations/{enc}/documents/new?kind=sick_note")).await;
        let r = doc.post_form(&format!("/consultations/{enc}/documents"), &[
            ("kind", "sick_note"), ("rest_days", "3"), ("rest_from", "07/12/2026"),
        ]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("Ask the patient whether the diagnosis"), "{}", r.body);
        assert_eq!(documents_count(&app).await, 0);

        let without = issue(&doc, enc, &[
            ("kind", "sick_note"), ("rest_days", "3"), ("rest_from", "07/12/2026"),
            ("consent", "no"),
        ]).await;
        let text = pdf::text(&doc.get(&without).await.bytes);
        assert!(text.contains("Wanjirũ"), "{text}");
        assert!(text.contains("09 Dec 2026"), "rest until the third day:\n{text}");
        assert!(!text.contains("Pneumonia") && !text.contains("J18.9"), "{text}");
        assert!(!text.contains("Pneumonia likely"), "nor the note's assessment:\n{text}");
        let kept: String = sqlx::query("SELECT content FROM consultation_documents")
            .fetch_one(app.db().read())
            .await
            .unwrap()
            .get(0);
        assert!(!kept.contains("Pneumonia"), "nor is it kept with the note: {kept}");

        let with = issue(&doc, enc, &[
            ("kind", "sick_note"), ("rest_days", "2"), ("rest_from", "2026-12-07"),
            ("consent", "yes"),
        ]).await;
        let text = pdf::text(&doc.get(&with).await.bytes);
        assert!(text.contains("Pneumonia"), "{text}");
        assert!(text.contains(&format!("SCK-{}-00002", this_year())), "{text}");

        // Printed in the reader's language: the same document, in Kiswahili.
        doc.set_cookie("hms_lang", "sw");
        let text = pdf::text(&doc.get(&with).await.bytes);
        assert!(text.contains("Cheti cha ugonjwa") && text.contains("NAKALA"), "{text}");
        assert!(text.contains("Pneumonia") && text.contains("Namba ya usajili"), "{text}");
    }

    async fn bad_input_is_refused_with_nothing_saved_and_payloads_print_as_text(app) {
        let (desk, doc) = staff(&app).await;
        let patient = wanjiru(&desk).await;
        let (enc, visit) = open_note(&desk, &doc, patient).await;
        let path = format!("/consultations/{enc}/documents");
        doc.get(&format!("{path}/new?kind=referral")).await;
        let payload = "<script>alert('x')</script>";
        for (fields, field_message) in [
            (vec![("kind", "referral"), ("reason", payload)], "Say which facility"),
            (vec![("kind", "sick_note"), ("rest_days", "0"), ("rest_from", "07/12/2026"),
                  ("consent", "no")], "whole number from 1 to 90"),
            (vec![("kind", "sick_note"), ("rest_days", "2.5"), ("rest_from", "31/02/2026"),
                  ("consent", "no")], "first day of rest"),
            (vec![("kind", "prescription")], "No drug has been ordered"),
            (vec![("kind", "lab_request")], "No laboratory test"),
            (vec![("kind", "death_certificate")], "Choose a kind"),
        ] {
            let r = doc.post_form(&path, &fields).await;
            assert_eq!(r.status, 422, "{fields:?}: {}", r.body);
            assert!(r.body.contains(field_message), "{fields:?}: {}", r.body);
            assert!(!r.body.contains(payload), "escaped on the page");
        }
        let long = "x".repeat(2001);
        let r = doc.post_form(&path, &[
            ("kind", "referral"), ("referral_to", "KNH"), ("reason", long.as_str()),
        ]).await;
        assert_eq!(r.status, 422);
        assert_eq!(documents_count(&app).await, 0);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM consultation_counters").await, 0);

        order(&app, patient, visit, "lab").await;
        let at = issue(&doc, enc, &[
            ("kind", "lab_request"), ("clinical_notes", payload),
        ]).await;
        let text = pdf::text(&doc.get(&at).await.bytes);
        assert!(text.contains(payload), "the payload prints as text:\n{text}");
        assert!(text.contains("Full blood count"), "{text}");
        assert!(text.contains(&format!("LAB-{}-00001", this_year())), "{text}");
    }

    async fn nurses_print_doctors_issue_and_nobody_else_reads_documents(app) {
        let (desk, doc) = staff(&app).await;
        let patient = wanjiru(&desk).await;
        let (enc, _) = open_note(&desk, &doc, patient).await;
        let at = issue(&doc, enc, &[("kind", "visit_summary")]).await;

        let nurse = app.login("muuguzi").await;
        assert_eq!(nurse.get(&at).await.status, 200);
        assert_eq!(nurse.get(&format!("/consultations/{enc}/documents")).await.status, 200);
        assert_eq!(
            nurse.get(&format!("/consultations/{enc}/documents/new?kind=referral")).await.status,
            403
        );
        let r = nurse.post_form(&format!("/consultations/{enc}/documents"), &[
            ("kind", "visit_summary"),
        ]).await;
        assert_eq!(r.status, 403);
        for path in [at.as_str(), "/consultations/register", "/consultations/register.csv"] {
            assert_eq!(desk.get(path).await.status, 403, "{path}");
        }
        assert_eq!(doc.get("/consultations/documents/999999.pdf").await.status, 404);
        assert_eq!(doc.get("/consultations/documents/abc").await.status, 404);
        assert_eq!(doc.get("/consultations/999999/documents").await.status, 404);
        assert_eq!(documents_count(&app).await, 1);
    }

    async fn the_daily_register_splits_under_fives_and_lists_signed_diagnosed_visits(app) {
        let (desk, doc) = staff(&app).await;
        let adult = wanjiru(&desk).await;
        let child = register(&desk, &[
            ("first_name", "Baraka"), ("last_name", "Mwangi"), ("sex", "male"),
            ("age_years", "2"), ("id_type", "none"), ("phone", "0733 111 222"),
            ("register_anyway", "1"),
        ]).await;
        let unsigned = register(&desk, &[
            ("first_name", "Zawadi"), ("last_name", "Kerubo"), ("sex", "female"),
            ("age_years", "3"), ("id_type", "none"), ("phone", "0733 111 333"),
            ("register_anyway", "1"),
        ]).await;
        let (e1, v1) = open_note(&desk, &doc, adult).await;
        diagnose(&app, &doc, e1, "pneumonia").await;
        diagnose(&app, &doc, e1, "malaria-suspected").await;
        order(&app, adult, v1, "drug").await;
        sign(&app, &doc, e1, "home").await;
        let (e2, _) = open_note(&desk, &doc, child).await;
        diagnose(&app, &doc, e2, "diarrhoea-no-dehydration").await;
        sign(&app, &doc, e2, "died").await;
        let (e3, _) = open_note(&desk, &doc, unsigned).await;
        diagnose(&app, &doc, e3, "malaria-suspected").await;
        let day: String = sqlx::query("SELECT visit_day FROM encounters WHERE id = $1")
            .bind(e1).fetch_one(app.db().read()).await.unwrap().get(0);

        let a = doc.get(&format!("/consultations/register?day={day}&form=204A")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("Mwangi, Baraka"), "{}", a.body);
        assert!(a.body.contains("Diarrhoea") && a.body.contains("Died"), "{}", a.body);
        assert!(!a.body.contains("Wanjir"), "adults are on 204B");
        assert!(!a.body.contains("Kerubo"), "unsigned notes are not counted");
        let b = doc.get(&format!("/consultations/register?day={day}&form=204B")).await;
        assert!(b.body.contains("Njoroge-Ōtieno, Wanjirũ"), "{}", b.body);
        assert!(b.body.contains("Amoxicillin 500 mg") && b.body.contains("Alive"), "{}", b.body);
        assert!(!b.body.contains("Baraka"));

        let csv = doc.get(&format!("/consultations/register.csv?day={day}&form=204A")).await;
        assert_eq!(csv.status, 200);
        let mut lines = csv.body.lines();
        let head = lines.next().unwrap();
        assert!(head.starts_with("\"A: Date (DD/MM/YYYY)\",\"B: OPD No. (New)\""), "{head}");
        assert_eq!(head.matches("\",\"").count(), 28, "29 columns: {head}");
        let row = lines.next().expect("one row");
        assert!(row.contains("\"Mwangi, Baraka\"") && row.contains("\"Diarrhoea with no dehydration\""), "{row}");
        assert!(lines.next().is_none());

        let csv_b = doc.get(&format!("/consultations/register.csv?day={day}&form=204B")).await;
        let row: Vec<&str> = csv_b.body.lines().nth(1).expect("one row").split("\",\"").collect();
        assert_eq!(row.len(), 23, "{row:?}");
        assert_eq!(row[18], "1", "malaria presenting with symptoms, not tested: {row:?}");
        assert!(row[19].contains("Pneumonia; Suspected malaria (not tested)"), "{row:?}");
        assert_eq!(row[1], patient_number_of(&app, adult).await, "a new patient: {row:?}");

        let pdf_b = doc.get(&format!("/consultations/register.pdf?day={day}&form=204B")).await;
        assert_eq!(pdf_b.status, 200);
        assert_eq!(pdf_b.header("cache-control"), Some("no-store"));
        let text = pdf::text(&pdf_b.bytes);
        assert!(text.contains("204B") && text.contains("Pneumonia"), "{text}");
        assert!(text.contains("Wanjirũ"), "{text}");

        let empty = doc.get("/consultations/register?day=2020-01-01&form=204A").await;
        assert_eq!(empty.status, 200);
        assert!(empty.body.contains("No consultation signed for this day"), "{}", empty.body);
        assert_eq!(doc.get("/consultations/register?day=31/02/2026").await.status, 400);
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("consultations.register_view").await, 6);
    }
}

each_backend! {
    async fn documents_issued_and_printed_at_once_get_distinct_numbers_and_one_original(app) {
        let (desk, doc) = staff(&app).await;
        let patient = wanjiru(&desk).await;
        let (enc, _) = open_note(&desk, &doc, patient).await;
        doc.get(&format!("/consultations/{enc}/documents/new?kind=visit_summary")).await;
        let path = format!("/consultations/{enc}/documents");
        let doc = std::sync::Arc::new(doc);
        let issued = futures_util::future::join_all((0..8).map(|_| {
            let (doc, path) = (doc.clone(), path.clone());
            async move { doc.post_form(&path, &[("kind", "visit_summary")]).await }
        }))
        .await;
        for r in &issued {
            assert_eq!(r.status, 303, "{}", r.body);
        }
        let numbers: std::collections::BTreeSet<String> = sqlx::query(
            "SELECT number FROM consultation_documents",
        )
        .fetch_all(app.db().read())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        let want: std::collections::BTreeSet<String> =
            (1..=8).map(|n| format!("VS-{}-{n:05}", this_year())).collect();
        assert_eq!(numbers, want);

        let at = issued[0].location().unwrap().to_string();
        let prints = futures_util::future::join_all((0..6).map(|_| {
            let (doc, at) = (doc.clone(), at.clone());
            async move { doc.get(&at).await }
        }))
        .await;
        let copies = prints
            .iter()
            .filter(|r| pdf::text(&r.bytes).contains("COPY"))
            .count();
        assert_eq!(copies, 5, "one original, the rest copies");
    }
}

/// In a real browser: the doctor opens the note's documents, picks the referral letter, is told
/// beside the field that the reason is missing (what was typed kept), gives it and gets the
/// letter; on a phone the form fits the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_issues_a_referral_letter_in_the_browser() {
    use hms_testkit::browser::*;
    use thirtyfour::prelude::*;

    let Some(tools) = BrowserTools::find() else {
        return;
    };
    let app = TestApp::start(hms_testkit::Backend::Sqlite)
        .await
        .expect("SQLite test app starts");
    let (desk, doc) = staff(&app).await;
    let patient = wanjiru(&desk).await;
    let (enc, _) = open_note(&desk, &doc, patient).await;
    diagnose(&app, &doc, enc, "pneumonia").await;
    sign(&app, &doc, enc, "referral").await;
    let db = app.db().clone();
    in_browser(
        &tools,
        &app,
        "consultations-documents",
        move |driver, base, shots| async move {
            driver.goto(format!("{base}/login")).await?;
            sign_in(&driver, DOCTOR, hms_testkit::PASSWORD).await?;
            wait_for_path(&driver, "/").await?;
            driver
                .goto(format!("{base}/consultations/{enc}/documents"))
                .await?;
            assert!(page_text(&driver)
                .await?
                .contains("No document has been issued"));
            driver
                .query(By::LinkText("Referral letter"))
                .first()
                .await?
                .click()
                .await?;
            wait_for_path(&driver, &format!("/consultations/{enc}/documents/new")).await?;
            fill(&driver, "referral_to", "Kenyatta National Hospital (13023)").await?;
            submit(&driver).await?;
            wait_for_text(&driver, "#reason-error", |t| t.contains("Give the reason")).await?;
            let kept = driver.find(By::Id("referral_to")).await?.value().await?;
            assert_eq!(kept.as_deref(), Some("Kenyatta National Hospital (13023)"));
            viewport(&driver, 390, 844).await?;
            screenshot_fits(&driver, &shots, "consultations-referral-form-phone.png").await?;
            viewport(&driver, 1366, 768).await?;
            fill(&driver, "reason", "Chest X-ray and specialist review").await?;
            submit(&driver).await?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM consultation_documents")
                    .fetch_one(db.read())
                    .await
                    .unwrap()
                    .get(0);
                if n == 1 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "no letter was issued");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let id: i64 = sqlx::query("SELECT id FROM consultation_documents")
                .fetch_one(db.read())
                .await
                .unwrap()
                .get(0);
            let pdf_bytes = doc
                .get(&format!("/consultations/documents/{id}.pdf"))
                .await
                .bytes;
            let text = pdf::text(&pdf_bytes);
            assert!(text.contains("Chest X-ray and specialist review"), "{text}");
            assert!(
                text.contains(REG_NO) && text.contains("Pneumonia"),
                "{text}"
            );
            Ok(())
        },
    )
    .await;
}
