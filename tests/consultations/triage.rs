//! Consultations tests: triage. A nurse takes vital signs from the triage queue; values are
//! checked against the ranges of the patient's age band (a typing slip refused, an unusual
//! open-ended value confirmed, abnormal and critical flagged); the set is stored as integers
//! and the patient sent on in the same transaction; a wrong set is marked entered in error,
//! never edited; trends, the chart panel and the nurse's cards show them.

use hms_testkit::domain::*;
use hms_testkit::{each_backend, Client, TestApp, TestResponse};
use sqlx::Row;

#[path = "triage_browser.rs"]
mod browser;

/// The reception desk and the nurse, signed in; the admin account set up first.
async fn staff(app: &TestApp) -> (Client, Client) {
    app.setup_admin().await;
    app.add_user("desk", &["receptionist"]).await;
    app.add_user("nurse", &["nurse"]).await;
    (app.login("desk").await, app.login("nurse").await)
}

/// Registers a patient of `sex` born on `dob` and checks them in to triage; the visit id.
async fn arrive(desk: &Client, first: &str, sex: &str, dob: &str) -> (i64, i64) {
    let patient = register(
        desk,
        &[
            ("first_name", first),
            ("last_name", "Otieno"),
            ("sex", sex),
            ("date_of_birth", dob),
            ("id_type", "none"),
            ("register_anyway", "1"),
        ],
    )
    .await;
    let visit = visit_id(&submit_check_in(desk, patient, "triage", "").await);
    (patient, visit)
}

/// Opens the form of a visit and sends `fields`.
async fn triage(nurse: &Client, visit: i64, fields: &[(&str, &str)]) -> TestResponse {
    let page = nurse.get(&format!("/triage/{visit}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    nurse.post_form(&format!("/triage/{visit}"), fields).await
}

async fn sets_of(app: &TestApp, visit: i64) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM vital_signs WHERE visit_id = $1")
        .bind(visit)
        .fetch_one(app.db().read())
        .await
        .unwrap()
        .get(0)
}

/// The visit's entries: (point code, state, priority reason), oldest first.
async fn entries(app: &TestApp, visit: i64) -> Vec<(String, String, Option<String>)> {
    sqlx::query(
        "SELECT s.code, e.state, e.priority_reason FROM queue_entries e \
         JOIN service_points s ON s.id = e.service_point_id WHERE e.visit_id = $1 ORDER BY e.id",
    )
    .bind(visit)
    .fetch_all(app.db().read())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn adult_dob() -> &'static str {
    "1990-05-31"
}

each_backend! {
    async fn a_set_is_stored_as_integers_and_the_patient_sent_on_in_one_go(app) {
        let (desk, nurse) = staff(&app).await;
        let (_, visit) = arrive(&desk, "Akinyi", "female", adult_dob()).await;
        let queue = nurse.get("/triage").await;
        assert_eq!(queue.status, 200);
        assert!(queue.body.contains("Akinyi"), "{}", queue.body);
        assert!(queue.body.contains(&format!("/triage/{visit}")));
        let live = nurse.get_htmx("/triage?live=1").await;
        assert!(live.body.trim_start().starts_with("<div id=\"triage-live\""), "{}", live.body);
        let r = triage(&nurse, visit, &[
            ("temperature", "37.5"), ("pulse", "88"), ("resp_rate", "18"),
            ("systolic", "120"), ("diastolic", "80"), ("spo2", "97"),
            ("weight", "64.5"), ("height", "162"), ("pain", "2"),
            ("pregnant", "yes"), ("lmp", "01/09/2026"), ("note", "<script>alert(1)</script>"),
        ]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), Some("/triage"));
        let row = sqlx::query(
            "SELECT temperature_dc, weight_g, height_mm, pregnant, lmp, worst, flags \
             FROM vital_signs WHERE visit_id = $1",
        )
        .bind(visit)
        .fetch_one(app.db().read())
        .await
        .unwrap();
        assert_eq!(row.get::<i64, _>(0), 375);
        assert_eq!(row.get::<i64, _>(1), 64_500);
        assert_eq!(row.get::<i64, _>(2), 1_620);
        assert_eq!(row.get::<i64, _>(3), 1);
        assert_eq!(row.get::<String, _>(4), "2026-09-01");
        assert_eq!(row.get::<String, _>(5), "abnormal");
        assert!(row.get::<String, _>(6).contains("\"temperature\":\"abnormal\""));
        // Triage served, then the consultation queue: in the same transaction as the set.
        let e = entries(&app, visit).await;
        assert_eq!(e[0].0, "triage");
        assert_eq!(e[0].1, "done");
        assert_eq!(e.last().unwrap().0, "consultation");
        assert_eq!(e.last().unwrap().1, "waiting");
        assert_eq!(app.audit_count("vitals.record").await, 1);
        app.app.audit_reads.flush().await;
        assert_eq!(app.audit_count("vitals.form").await, 1);
        // Nobody waits at triage now.
        let queue = nurse.get("/triage").await;
        assert!(!queue.body.contains("Akinyi"));
        // The form's note shows escaped.
        let form = nurse.get(&format!("/triage/{visit}")).await;
        assert!(form.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!form.body.contains("<script>alert(1)"));
    }

    async fn a_typing_slip_is_refused_with_the_likely_value_and_nothing_saved(app) {
        let (desk, nurse) = staff(&app).await;
        let (_, visit) = arrive(&desk, "Baraka", "male", adult_dob()).await;
        let r = triage(&nurse, visit, &[("temperature", "375"), ("pulse", "80")]).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains("375 is not a temperature; did you mean 37.5 °C?"), "{}", r.body);
        assert!(r.body.contains("value=\"375\""), "what was typed stays");
        // SpO2 is bounded too: no confirmation makes 101 % possible.
        let r = triage(&nurse, visit, &[("spo2", "101"), ("checked", "spo2")]).await;
        assert_eq!(r.status, 422);
        // Pregnancy for a man; diastolic above systolic.
        let r = triage(&nurse, visit, &[("pulse", "80"), ("pregnant", "yes")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("registered as male"), "{}", r.body);
        let r = triage(&nurse, visit, &[("systolic", "80"), ("diastolic", "90")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("diastolic pressure must be below"));
        // An unknown point to send to.
        let r = triage(&nurse, visit, &[("pulse", "80"), ("send_to", "nowhere")]).await;
        assert_eq!(r.status, 422);
        assert_eq!(sets_of(&app, visit).await, 0);
        assert_eq!(entries(&app, visit).await.len(), 1, "still waiting at triage only");
    }

    async fn an_unusual_weight_needs_i_have_checked_this_value(app) {
        let (desk, nurse) = staff(&app).await;
        // A baby of about 4 months: 40 kg is a slip unless the nurse says she checked.
        let dob = (chrono::Utc::now().date_naive() - chrono::Duration::days(120))
            .format("%Y-%m-%d")
            .to_string();
        let (_, visit) = arrive(&desk, "Neema", "female", &dob).await;
        let r = triage(&nurse, visit, &[("weight", "40")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("I have checked this value"), "{}", r.body);
        assert!(r.body.contains("name=\"checked\" value=\"weight\""));
        assert_eq!(sets_of(&app, visit).await, 0);
        let r = triage(&nurse, visit, &[("weight", "40"), ("checked", "weight")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let (w, checked, worst): (i64, String, String) = {
            let row = sqlx::query("SELECT weight_g, checked, worst FROM vital_signs WHERE visit_id = $1")
                .bind(visit)
                .fetch_one(app.db().read())
                .await
                .unwrap();
            (row.get(0), row.get(1), row.get(2))
        };
        assert_eq!((w, checked.as_str(), worst.as_str()), (40_000, "weight", "critical"));
        // A 4-month-old breathing 55 a minute breathes fast (IMCI: 50 and above at 2-11 months).
        let (_, visit2) = arrive(&desk, "Imani", "female", &dob).await;
        let r = triage(&nurse, visit2, &[("resp_rate", "55"), ("muac", "12")]).await;
        assert_eq!(r.status, 422, "MUAC starts at 6 months");
        let r = triage(&nurse, visit2, &[("resp_rate", "55")]).await;
        assert_eq!(r.status, 303);
        let flags: String = sqlx::query("SELECT flags FROM vital_signs WHERE visit_id = $1")
            .bind(visit2)
            .fetch_one(app.db().read())
            .await
            .unwrap()
            .get(0);
        assert!(flags.contains("\"resp_rate\":\"abnormal\""), "{flags}");
    }

    async fn critical_findings_go_as_an_emergency_and_show_on_the_card(app) {
        let (desk, nurse) = staff(&app).await;
        let (patient, visit) = arrive(&desk, "Chebet", "female", "2023-01-15").await;
        let card = nurse.get("/consultations/cards/triage").await;
        assert_eq!(card.status, 200);
        assert!(card.body.contains("figure\">1<"), "{}", card.body);
        let empty = nurse.get("/consultations/cards/critical-vitals").await;
        assert!(empty.body.contains("No critical vital signs today."));
        // As the nurse types, the form flags the values and offers emergency priority.
        let check = nurse.post_form(&format!("/triage/{visit}/check"), &[("spo2", "86")]).await;
        assert_eq!(check.status, 200);
        assert!(check.body.contains("SpO2 86 %: critical"), "{}", check.body);
        assert!(check.body.contains("consider sending with emergency priority"));
        let check = nurse.post_form(&format!("/triage/{visit}/check"), &[("spo2", "97")]).await;
        assert!(!check.body.contains("emergency priority"), "{}", check.body);
        let r = triage(&nurse, visit, &[
            ("spo2", "86"), ("resp_rate", "62"), ("muac", "11.2"),
            ("danger_signs", "convulsions"), ("emergency", "1"),
        ]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let e = entries(&app, visit).await;
        assert_eq!(e.last().unwrap().0, "consultation");
        assert_eq!(e.last().unwrap().2.as_deref(), Some("emergency"));
        let category: String = sqlx::query("SELECT triage_category FROM vital_signs WHERE visit_id = $1")
            .bind(visit).fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(category, "emergency");
        let number = patient_number(&desk, patient).await;
        let card = nurse.get("/consultations/cards/critical-vitals").await;
        assert!(card.body.contains(&number), "{}", card.body);
        assert!(card.body.contains("SpO2 86 %"), "{}", card.body);
        // The summary the consultation page shows, and pregnancy not asked of a child.
        let summary = nurse.get(&format!("/patients/{patient}/vitals/panel?patients={patient}")).await;
        assert_eq!(summary.status, 200);
        assert!(summary.body.contains("Convulsions"));
        assert!(summary.body.contains("hypoxaemia (MOH 705A row 69"), "{}", summary.body);
        assert!(!summary.body.contains("Pregnant"));
        // The chart's timeline names the set with its critical values; the panel is offered.
        let chart = nurse.get(&format!("/patients/{patient}")).await;
        assert!(chart.body.contains("SpO2 86 % (critical)"), "{}", chart.body);
        assert!(chart.body.contains(&format!("/patients/{patient}/vitals/panel?patients={patient}")));
    }

    async fn a_wrong_set_is_marked_entered_in_error_once_and_never_edited(app) {
        let (desk, nurse) = staff(&app).await;
        let (patient, visit) = arrive(&desk, "Wekesa", "male", adult_dob()).await;
        assert_eq!(triage(&nurse, visit, &[("temperature", "39.5"), ("pulse", "120")]).await.status, 303);
        let id: i64 = sqlx::query("SELECT id FROM vital_signs WHERE visit_id = $1")
            .bind(visit).fetch_one(app.db().read()).await.unwrap().get(0);
        // The database refuses an edit or a delete, whoever asks.
        for sql in [
            "UPDATE vital_signs SET temperature_dc = 370 WHERE id = $1",
            "DELETE FROM vital_signs WHERE id = $1",
        ] {
            let mut tx = app.db().begin().await.unwrap();
            let refused = sqlx::query(sql).bind(id).execute(&mut *tx).await;
            assert!(refused.is_err(), "{sql}");
        }
        let page = nurse.get(&format!("/patients/{patient}/vitals")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<svg"), "trends drawn");
        assert!(page.body.contains("<rect"), "the critical temperature marked");
        let r = nurse.post_form(&format!("/triage/vitals/{id}/error"), &[("reason", "")]).await;
        assert_eq!(r.status, 422, "a reason is needed");
        assert!(r.body.contains("Say why the set is wrong"), "{}", r.body);
        let long = "x".repeat(201);
        let r = nurse.post_form(&format!("/triage/vitals/{id}/error"), &[("reason", &long)]).await;
        assert_eq!(r.status, 422, "at most 200 characters");
        assert_eq!(app.audit_count("vitals.entered_in_error").await, 0);
        let r = nurse.post_form(&format!("/triage/vitals/{id}/error"), &[("reason", "Wrong patient")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let again = nurse.post_form(&format!("/triage/vitals/{id}/error"), &[("reason", "Twice")]).await;
        assert_eq!(again.status, 409);
        let reason: String = sqlx::query("SELECT error_reason FROM vital_signs WHERE id = $1")
            .bind(id).fetch_one(app.db().read()).await.unwrap().get(0);
        assert_eq!(reason, "Wrong patient");
        assert_eq!(app.audit_count("vitals.entered_in_error").await, 1);
        let page = nurse.get(&format!("/patients/{patient}/vitals")).await;
        assert!(page.body.contains("entered in error"));
        assert!(page.body.contains("Wrong patient"));
        app.app.audit_reads.flush().await;
        // Each page that showed the history is recorded: two views and the two refusals.
        assert_eq!(app.audit_count("vitals.history").await, 4);
        // The panel passes over a set entered in error.
        let panel = nurse.get(&format!("/patients/{patient}/vitals/panel?patients={patient}")).await;
        assert!(panel.body.contains("No vital signs recorded yet."), "{}", panel.body);
    }

    async fn a_patient_with_the_doctor_stays_there_when_vitals_are_added(app) {
        let (desk, nurse) = staff(&app).await;
        app.add_user("daktari", &["doctor"]).await;
        let doctor = app.login("daktari").await;
        let patient = register_quick(&desk, "Jabali", "Kiprop", "0711 222 333").await;
        let visit = visit_id(&submit_check_in(&desk, patient, "consultation", "").await);
        doctor.get("/queues/consultation").await;
        assert_eq!(doctor.post_form("/queues/consultation/call", &[]).await.status, 303);
        let r = triage(&nurse, visit, &[("pulse", "76")]).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let e = entries(&app, visit).await;
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!((e[0].0.as_str(), e[0].1.as_str()), ("consultation", "called"));
        let queue = nurse.get("/triage").await;
        assert!(queue.body.contains("stays there"), "{}", queue.body);
        assert_eq!(sets_of(&app, visit).await, 1);
    }

    async fn empty_states_and_permissions(app) {
        let (desk, nurse) = staff(&app).await;
        let queue = nurse.get("/triage").await;
        assert_eq!(queue.status, 200);
        assert!(queue.body.contains("Nobody is waiting for triage."));
        let patient = register_quick(&desk, "Zawadi", "Mutua", "0711 000 111").await;
        let page = nurse.get(&format!("/patients/{patient}/vitals")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("No vital signs recorded yet."));
        assert_eq!(nurse.get("/triage/ranges").await.status, 200);
        assert_eq!(nurse.get("/triage/999999").await.status, 404);
        // Reception records no vital signs and reads no history.
        assert_eq!(desk.get("/triage").await.status, 403);
        assert_eq!(desk.get(&format!("/patients/{patient}/vitals")).await.status, 403);
        let visit = visit_id(&submit_check_in(&desk, patient, "triage", "").await);
        desk.get("/patients/new").await;
        let r = desk.post_form(&format!("/triage/{visit}"), &[("pulse", "80")]).await;
        assert_eq!(r.status, 403);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM vital_signs").await, 0);
        // In Kiswahili.
        nurse.set_cookie("hms_lang", "sw");
        let sw = nurse.get("/triage").await;
        assert_eq!(sw.status, 200);
        assert!(sw.body.contains("Pima dalili muhimu"), "{}", sw.body);
        let r = nurse.post_form(&format!("/triage/{visit}"), &[("temperature", "375")]).await;
        assert_eq!(r.status, 422);
        assert!(r.body.contains("375 si joto la mwili; ulimaanisha 37.5 °C?"), "{}", r.body);
    }
}
